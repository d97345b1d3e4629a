/* Strict HTTP/1.1 message head parser (RFC 9112) and body framing.
 * Zero-copy: parsed fields point into the caller's buffer. */
#ifndef CAPSULE_PROXY_HTTP_PARSE_H
#define CAPSULE_PROXY_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HTTP_MAX_HEADERS 100
#define HTTP_MAX_LINE 8192
#define HTTP_MAX_HEAD 16384

struct http_header
{
  const char *name;
  size_t name_len;
  const char *value; /* OWS trimmed */
  size_t value_len;
};

enum http_target_form
{
  HTTP_TARGET_ORIGIN,    /* /path?query */
  HTTP_TARGET_ABSOLUTE,  /* http://authority/path?query */
  HTTP_TARGET_AUTHORITY, /* host:port (CONNECT) */
};

struct http_message
{
  /* request */
  const char *method;
  size_t method_len;
  const char *target;
  size_t target_len;
  enum http_target_form form;
  /* response */
  int status;
  /* both */
  int minor; /* HTTP/1.<minor> */
  struct http_header headers[HTTP_MAX_HEADERS];
  size_t n_headers;
  int64_t content_length; /* -1: none */
  bool chunked;
  bool conn_close;     /* Connection: close (or 1.0 without keep-alive) */
  bool expect_continue;
  bool upgrade;        /* Upgrade header present */
  int host_idx;        /* index of the Host header, -1 none */
};

/* Parse a request head from buf[0..len).  Returns the head length (> 0,
 * including the final CRLF CRLF), 0 if incomplete (and len < HTTP_MAX_HEAD),
 * or -1 with *why set (a short static reason) for anything malformed or
 * ambiguous: CL+TE, duplicate CL, bad CL, TE other than "chunked", obs-fold,
 * bare CR or LF, whitespace before ':', control characters, overlong lines
 * or head, invalid method/target/version, missing or duplicate Host on 1.1. */
int http_parse_request (const char *buf, size_t len, struct http_message *m, const char **why);
/* Same for a response head (status line "HTTP/1.x NNN reason"). */
int http_parse_response (const char *buf, size_t len, struct http_message *m, const char **why);

/* Split an authority "host[:port]" (host may be "[v6]"); rejects userinfo.
 * *port = default_port when absent.  Returns 0 / -1. */
int http_split_authority (const char *a, size_t len, const char **host, size_t *host_len, int *port,
                          int default_port);
/* Split an absolute-form "http://authority/path?q": authority and the
 * origin part (path+query, "/" if empty).  Only the http scheme. */
int http_split_absolute (const char *t, size_t len, const char **auth, size_t *auth_len, const char **origin,
                         size_t *origin_len);

bool http_header_is (const struct http_header *h, const char *name);
/* Does a comma list header value contain token (case-insensitive)? */
bool http_list_has (const char *v, size_t len, const char *token);

/* Body framing: scan bytes as they pass, find where the message ends. */
enum http_body_kind
{
  HTTP_BODY_NONE,
  HTTP_BODY_LENGTH,
  HTTP_BODY_CHUNKED,
  HTTP_BODY_EOF, /* response delimited by close */
};

struct http_body
{
  enum http_body_kind kind;
  uint64_t remaining; /* LENGTH: bytes left; CHUNKED: bytes left in the current chunk data */
  int cstate;         /* chunked decoder state */
  uint64_t csize;
  int cdigits;
  size_t line_len;    /* bound on size/trailer lines */
  bool done;
};

void http_body_init (struct http_body *b, enum http_body_kind kind, uint64_t length);
/* Consume up to n bytes of body; returns how many belong to this message
 * (stops at its end, setting done), or -1 on a framing error. */
ssize_t http_body_scan (struct http_body *b, const char *p, size_t n);

#endif
