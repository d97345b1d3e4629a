/* capsule-proxy internals shared by its files: the proxy state, the
 * configuration, the epoll event tags. */
#ifndef CAPSULE_PROXY_PROXY_H
#define CAPSULE_PROXY_PROXY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "audit.h"
#include "broker.h"
#include "egress_rule.h"
#include "policy.h"
#include "resolve.h"

struct proxy_config
{
  char *capsule_id;
  char *listen, *transparent, *dns;            /* ADDR:PORT to bind */
  int listen_fd, transparent_fd, dns_fd, dns_tcp_fd; /* inherited, -1 none */
  char **rules;        /* operator rules (command line, config "operator_rules") */
  size_t n_rules;
  char **annot_rules;  /* annotation rules (config "rules") */
  size_t n_annot;
  char **pins;         /* "host=ip,ip" */
  size_t n_pins;
  char **tls_pins;     /* "host=sha256/BASE64" */
  size_t n_tls_pins;
  char **cred_rules;   /* "name@RULE=Header" */
  char **cred_files;   /* secret file per rule (NULL: secrets_dir/name) */
  size_t n_creds;
  char *secrets_dir;
  char *audit_path;
  char *config_path;
  int max_conns;
  int idle_timeout_ms;
  int header_timeout_ms;
  uint32_t upstream_mark; /* SO_MARK on upstream sockets (nft lets them out) */
  char *ca_out;        /* enable TLS interception; write the per-run CA cert here */
  char *upstream_ca;   /* trust anchors for re-originated TLS (default: system store) */
  char *gateway;       /* capsule/egress.gateway "host:port": every allowed request leaves through it */
  struct broker_settings broker; /* brokered capabilities (config file only) */
  bool check;
  bool reload;         /* SIGHUP: no blocking pre-resolve (names come from the old cache or the workers) */
};

/* What an epoll event points at. */
enum ev_kind
{
  EV_LISTEN,
  EV_TRANSPARENT,
  EV_DNS_UDP,
  EV_DNS_TCP_LISTEN,
  EV_DNS_TCP,
  EV_CLIENT,
  EV_UPSTREAM,
  EV_SIGNAL,
  EV_RESOLVER, /* the resolver worker finished lookups */
  EV_RELOAD,   /* lookups of a staged reload's resolver (its gateway's name) */
};

struct ev
{
  enum ev_kind kind;
  void *obj;
};

struct conn;
struct dns_tcp;
struct mitm;
struct reload_staged;

struct proxy
{
  int epfd;
  struct proxy_config *cfg;
  struct policy *policy;
  struct resolver *resolver;
  struct audit_log *audit;
  struct mitm *mitm; /* TLS interception, NULL when off */
  struct resolve_addrs *gateway; /* the paired gateway's addresses (port set), NULL: none */
  char *gateway_spec;            /* its "host:port" as configured */
  /* Bumped when a reload changes the gateway: an upstream connection
   * opened under another generation is not reused for a new request. */
  uint32_t gw_gen;
  struct reload_staged *staged; /* a SIGHUP waiting for its gateway's name (main.c) */
  int listen_fd, transparent_fd, dns_fd, dns_tcp_fd;
  struct ev listen_ev, transparent_ev, dns_ev, dns_tcp_ev, resolver_ev, reload_ev;
  struct conn *conns;
  size_t nconns;
  struct conn *dead; /* closed during this epoll batch, freed after it */
  struct dns_tcp *dns_conns;
  uint64_t now_ms;
  uint64_t last_sync_ms;
  uint64_t requests; /* decisions made (for stats) */
  /* Inside one epoll batch (audit lock held) allow decisions on a reused
   * upstream are queued and written with one write(2) at the batch's end,
   * before any of those requests is forwarded (conn_flush_gated). */
  bool batching;
  struct conn **gated;
  size_t n_gated;
  char *gate_buf; /* their JSON objects, NUL-separated */
  size_t gate_len;
};

uint64_t proxy_now_ms (void);

/* config.c */
void config_init (struct proxy_config *c);
void config_free (struct proxy_config *c);
/* Merge the JSON config file into c (annotation rules, pins, addresses...). */
int config_load_json (struct proxy_config *c, const char *path, cr_error_t *err);
/* Build policy + resolver from the configuration (validates every rule). */
int config_build_policy (const struct proxy_config *c, struct policy **policy, struct resolver **resolver,
                         cr_error_t *err);
/* Append a copy of s to the vector *v of *n strings. */
void strv_push (char ***v, size_t *n, const char *s);
/* A new NULL-terminated vector of a's then b's pointers (not copies). */
char **strv_concat (char **a, size_t na, char **b, size_t nb);
void config_add_cred (struct proxy_config *c, const char *rule, const char *file);
/* "ADDR:PORT" / "[ADDR]:PORT" to a sockaddr. */
int config_parse_addr (const char *s, struct sockaddr_storage *ss, socklen_t *len, cr_error_t *err);

/* conn.c */
void conn_accept (struct proxy *px, int lfd, bool transparent);
void conn_event (struct proxy *px, struct ev *ev, uint32_t events);
void conn_timers (struct proxy *px);
void conn_close_all (struct proxy *px);
void conn_reap (struct proxy *px);
/* End of a batch: write the queued decisions, then let their requests go. */
void conn_flush_gated (struct proxy *px);
void conn_release_pool (void);
/* Lookups finished: connections waiting for a name try again. */
void conn_resolved (struct proxy *px);

/* dns.c */
void dns_udp_event (struct proxy *px);
void dns_tcp_accept (struct proxy *px);
void dns_tcp_event (struct proxy *px, struct ev *ev, uint32_t events);
void dns_timers (struct proxy *px);
/* Lookups finished: answer the UDP queries that waited for them. */
void dns_resolved (struct proxy *px);

/* paudit.c: audit records of the proxy */
void paudit_event (struct proxy *px, const char *event, const char *detail);
struct paudit_req
{
  const char *client;
  const char *listener;
  const char *method;
  const char *host;
  int port;
  const char *path;
  const char *rule;
  const char *verdict;
  const char *reason;
};
/* Decision line; returns -1 if it could not be written (then deny). */
int paudit_decision (struct proxy *px, const struct paudit_req *r);
void paudit_done (struct proxy *px, const struct paudit_req *r, int status, uint64_t up, uint64_t down,
                  uint64_t duration_ms);
/* Queue an allow decision during a batch (see struct proxy): false when
 * not batching or the queue is full (then write it with paudit_decision). */
bool paudit_gate (struct proxy *px, struct conn *c, const struct paudit_req *r);
/* Append the queued lines, the last one with audit_append (one write(2)
 * carries them and the deferred completions); -1 if it failed. */
int paudit_flush_gated (struct proxy *px);
void paudit_free_gated (struct proxy *px);
/* The two lines' JSON objects (NUL-terminated; returns the length), built
 * without snprintf: what paudit_decision / paudit_done append. */
size_t paudit_format_decision (char *out, size_t cap, const char *capsule_id, const struct paudit_req *r);
size_t paudit_format_done (char *out, size_t cap, const char *capsule_id, const struct paudit_req *r, int status,
                           uint64_t up, uint64_t down, uint64_t duration_ms);

#endif
