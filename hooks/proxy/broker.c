/* Brokered capabilities: rate counters, held requests, kill switch
 * (broker.h).  One broker per proxy process: the proxy serves one capsule. */
#include "broker.h"
#include "capability_rule.h"
#include "proxy.h"
#include "util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#define BROKER_DEFAULT_TIMEOUT_S 60

struct bcap
{
  struct capability_rule r;
  char **approved; /* confirm=new values approved so far (raw) */
  size_t n_approved;
};

struct held
{
  struct held *next;
  struct conn *conn;
  struct bcap *cap;
  char id[33];
  uint64_t deadline_ms;
};

/* A staged replacement (broker_prepare), applied by broker_apply. */
struct broker_next
{
  struct bcap *caps;
  size_t n;
  uint64_t timeout_ms;
  bool setup; /* the run's first capabilities: the directories and fds below move into B */
  char *state_dir, *bdir, *pdir, *agent, *agent_dir, *ks_dir;
  int ino_fd, timer_fd;
  struct ev *ino_ev, *timer_ev;
};

static struct
{
  bool started;
  struct bcap *caps;
  size_t n;
  char *state_dir, *bdir, *pdir, *agent, *agent_dir, *ks_dir;
  uint64_t timeout_ms;
  int ino_fd, timer_fd;
  struct ev *ino_ev, *timer_ev;
  struct held *held;
  struct proxy *px;
  struct broker_next *staged; /* prepared by a reload, not applied yet */
} B = { .ino_fd = -1, .timer_fd = -1 };

void
broker_settings_free (struct broker_settings *s)
{
  for (size_t i = 0; i < s->n; i++)
    {
      free (s->names[i]);
      free (s->values[i]);
    }
  free (s->names);
  free (s->values);
  free (s->state_dir);
  free (s->agent_state_dir);
  free (s->agent);
  free (s->killswitch_dir);
  memset (s, 0, sizeof *s);
}

static uint64_t
wall_s (void)
{
  return (uint64_t) time (NULL);
}

/* ---- audit ---- */

#define J(buf, s) (audit_json_escape ((buf), sizeof (buf), (s) ? (s) : ""), (buf))

static void
baudit (const char *event, const struct bcap *cap, const char *reqid, const char *extra)
{
  if (B.px == NULL || B.px->audit == NULL)
    return;
  char id[256], ag[256], nm[160], line[3072];
  snprintf (line, sizeof line, "{\"event\":\"%s\",\"capsule\":\"%s\",\"agent\":\"%s\",\"capability\":\"%s\"%s%s%s%s}",
            event, J (id, B.px->cfg->capsule_id), J (ag, B.agent), J (nm, cap ? cap->r.name : ""),
            reqid ? ",\"request\":\"" : "", reqid ? reqid : "", reqid ? "\"" : "", extra ? extra : "");
  cr_error_t err = NULL;
  if (audit_append (B.px->audit, line, &err) < 0)
    {
      fprintf (stderr, "capsule-proxy: audit: %s\n", err->msg);
      cr_error_release (&err);
    }
}

/* ---- counters ---- */

struct counter
{
  uint64_t start, count;
};

static void
counter_read (int dirfd, const char *file, struct counter *c)
{
  c->start = c->count = 0;
  cleanup_close int fd = openat (dirfd, file, O_RDONLY | O_CLOEXEC);
  char buf[64];
  ssize_t n = fd >= 0 ? read (fd, buf, sizeof buf - 1) : -1;
  if (n <= 0)
    return;
  buf[n] = '\0';
  unsigned long long s, k;
  if (sscanf (buf, "%llu %llu", &s, &k) == 2)
    c->start = s, c->count = k;
}

static int
counter_write (const char *dir, const char *file, const struct counter *c, cr_error_t *err)
{
  char buf[64];
  int n = snprintf (buf, sizeof buf, "%" PRIu64 " %" PRIu64 "\n", c->start, c->count);
  cleanup_free char *path = xasprintf ("%s/%s", dir, file);
  return write_file_atomic (path, buf, n, err);
}

/* Within the current window? A window past its period starts afresh. */
static void
counter_window (struct counter *c, uint64_t period, uint64_t now)
{
  if (c->start == 0 || now >= c->start + period || c->start > now + period)
    c->start = now, c->count = 0;
}

/* Check (and when count is set, take) one use of cap's rate for the
 * capsule and the agent.  Returns 0, 1 when over the rate (*who says
 * whose), -1 on an error. */
static int
rate_take (struct bcap *cap, bool count, const char **who, cr_error_t *err)
{
  if (cap->r.rate_n == 0 && !count)
    return 0;
  cleanup_free char *file = xasprintf ("%s.count", cap->r.name);
  uint64_t now = wall_s ();
  cleanup_close int bfd = open (B.bdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (bfd < 0)
    return cr_error_errno (err, "opening `%s`", B.bdir);
  /* the agent's counter is shared by its capsules: lock it */
  cleanup_close int lfd = -1;
  if (B.agent_dir)
    {
      cleanup_free char *lock = xasprintf ("%s/%s.lock", B.agent_dir, cap->r.name);
      lfd = open (lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
      if (lfd < 0 || flock (lfd, LOCK_EX) < 0)
        return cr_error_errno (err, "locking `%s`", lock);
    }
  struct counter cc, ac = { 0, 0 };
  counter_read (bfd, file, &cc);
  counter_window (&cc, cap->r.rate_period_s ? cap->r.rate_period_s : UINT32_MAX, now);
  if (B.agent_dir)
    {
      cleanup_close int afd = open (B.agent_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (afd < 0)
        return cr_error_errno (err, "opening `%s`", B.agent_dir);
      counter_read (afd, file, &ac);
      counter_window (&ac, cap->r.rate_period_s ? cap->r.rate_period_s : UINT32_MAX, now);
    }
  if (cap->r.rate_n)
    {
      if (cc.count >= cap->r.rate_n)
        {
          *who = "capsule";
          return 1;
        }
      if (B.agent_dir && ac.count >= cap->r.rate_n)
        {
          *who = "agent";
          return 1;
        }
    }
  if (!count)
    return 0;
  cc.count++;
  ac.count++;
  if (counter_write (B.bdir, file, &cc, err) < 0)
    return -1;
  if (B.agent_dir && counter_write (B.agent_dir, file, &ac, err) < 0)
    return -1;
  return 0;
}

/* ---- confirm=new values ---- */

static char *
hex_of (const char *s)
{
  size_t l = strlen (s);
  char *h = xmalloc0 (2 * l + 1);
  for (size_t i = 0; i < l; i++)
    sprintf (h + 2 * i, "%02x", (unsigned char) s[i]);
  return h;
}

static void
approved_load (struct bcap *cap, const char *bdir)
{
  cleanup_free char *path = xasprintf ("%s/%s.approved", bdir, cap->r.name);
  cleanup_fclose FILE *f = fopen (path, "re");
  char *line = NULL;
  size_t cap_l = 0;
  ssize_t n;
  while (f && (n = getline (&line, &cap_l, f)) > 0)
    {
      while (n > 0 && (line[n - 1] == '\n'))
        line[--n] = '\0';
      if (n % 2)
        continue;
      char *v = xmalloc0 (n / 2 + 1);
      bool ok = true;
      for (ssize_t i = 0; i < n / 2 && ok; i++)
        {
          unsigned x;
          ok = sscanf (line + 2 * i, "%2x", &x) == 1 && x != 0;
          v[i] = (char) x;
        }
      if (!ok)
        {
          free (v);
          continue;
        }
      cap->approved = realloc (cap->approved, (cap->n_approved + 1) * sizeof *cap->approved);
      if (cap->approved == NULL)
        abort ();
      cap->approved[cap->n_approved++] = v;
    }
  free (line);
}

static bool
approved_has (const struct bcap *cap, const char *value)
{
  for (size_t i = 0; i < cap->n_approved; i++)
    if (strcmp (cap->approved[i], value) == 0)
      return true;
  return false;
}

static int
approved_add (struct bcap *cap, const char *value, cr_error_t *err)
{
  if (approved_has (cap, value))
    return 0;
  cleanup_free char *path = xasprintf ("%s/%s.approved", B.bdir, cap->r.name);
  cleanup_free char *h = hex_of (value);
  cleanup_free char *line = xasprintf ("%s\n", h);
  cleanup_close int fd = open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0 || write (fd, line, strlen (line)) != (ssize_t) strlen (line) || fsync (fd) < 0)
    return cr_error_errno (err, "recording an approved value in `%s`", path);
  cap->approved = realloc (cap->approved, (cap->n_approved + 1) * sizeof *cap->approved);
  if (cap->approved == NULL)
    abort ();
  cap->approved[cap->n_approved++] = xstrdup (value);
  return 0;
}

/* The value of the dotted FIELD in a JSON body as text (strings as is,
 * numbers and literals as written); NULL when absent, not a scalar, or the
 * body is not JSON. */
static char *
json_field (const char *body, size_t len, const char *field)
{
  cleanup_free char *copy = xmalloc0 (len + 1);
  memcpy (copy, body, len);
  if (strlen (copy) != len)
    return NULL;
  yajl_val root = yajl_tree_parse (copy, NULL, 0);
  if (root == NULL)
    return NULL;
  cleanup_free char *f = xstrdup (field);
  const char *path[64];
  size_t n = 0;
  char *save = NULL;
  for (char *p = strtok_r (f, ".", &save); p && n < 63; p = strtok_r (NULL, ".", &save))
    path[n++] = p;
  path[n] = NULL;
  yajl_val v = yajl_tree_get (root, path, yajl_t_any);
  char *out = NULL;
  if (v && YAJL_IS_STRING (v))
    out = xstrdup (YAJL_GET_STRING (v));
  else if (v && YAJL_IS_NUMBER (v))
    out = xstrdup (YAJL_GET_NUMBER (v));
  else if (v && YAJL_IS_TRUE (v))
    out = xstrdup ("true");
  else if (v && YAJL_IS_FALSE (v))
    out = xstrdup ("false");
  else if (v && YAJL_IS_NULL (v))
    out = xstrdup ("null");
  yajl_tree_free (root);
  if (out && (out[0] == '\0' || strchr (out, '\n')))
    {
      /* empty values and line breaks are never "known" */
      free (out);
      out = NULL;
    }
  return out;
}

/* ---- kill switch ---- */

static bool
revoked (const struct bcap *cap)
{
  if (B.ks_dir == NULL)
    return false;
  cleanup_free char *p = xasprintf ("%s/capability-%s", B.ks_dir, cap->r.name);
  return access (p, F_OK) == 0;
}

/* ---- held requests ---- */

static void
pending_paths (const char *id, char **json, char **decision)
{
  *json = xasprintf ("%s/%s.json", B.pdir, id);
  *decision = xasprintf ("%s/%s.decision", B.pdir, id);
}

static void
held_unlink (struct held *h)
{
  cleanup_free char *j = NULL, *d = NULL;
  pending_paths (h->id, &j, &d);
  unlink (j);
  unlink (d);
}

static struct held *
held_take (struct held *h)
{
  for (struct held **pp = &B.held; *pp; pp = &(*pp)->next)
    if (*pp == h)
      {
        *pp = h->next;
        return h;
      }
  return NULL;
}

/* Answer a held request (the held record is freed; conn may be freed too). */
static void
held_resolve (struct held *h, bool approved, const char *event, const char *reason)
{
  held_take (h);
  held_unlink (h);
  char extra[400], r[300];
  snprintf (extra, sizeof extra, ",\"decision\":\"%s\",\"reason\":\"%s\"", approved ? "approve" : "deny",
            J (r, reason));
  baudit (event, h->cap, h->id, extra);
  struct conn *c = h->conn;
  free (h);
  conn_broker_resume (c, approved, 403, reason);
}

static int
hold (struct conn *c, struct bcap *cap, const struct broker_request *r, const char *value, cr_error_t *err)
{
  unsigned char rnd[16];
  if (getrandom (rnd, sizeof rnd, 0) != sizeof rnd)
    return cr_error_errno (err, "getrandom");
  struct held *h = xmalloc0 (sizeof *h);
  for (int i = 0; i < 16; i++)
    sprintf (h->id + 2 * i, "%02x", rnd[i]);
  h->conn = c;
  h->cap = cap;
  h->deadline_ms = B.px->now_ms + B.timeout_ms;
  char id[256], ag[256], m[64], ho[600], pa[1100], fi[300], va[1100], fields[4096];
  snprintf (fields, sizeof fields,
            "\"method\":\"%s\",\"host\":\"%s\",\"port\":%d,\"path\":\"%s\",\"field\":%s%s%s,\"value\":%s%s%s",
            J (m, r->method), J (ho, r->host), r->port, J (pa, r->path), cap->r.confirm_field ? "\"" : "",
            cap->r.confirm_field ? J (fi, cap->r.confirm_field) : "null", cap->r.confirm_field ? "\"" : "",
            value ? "\"" : "", value ? J (va, value) : "null", value ? "\"" : "");
  cleanup_free char *rec = xasprintf ("{\"id\":\"%s\",\"capsule\":\"%s\",\"agent\":\"%s\",\"capability\":\"%s\",%s,"
                                      "\"created\":%" PRIu64 ",\"expires\":%" PRIu64 "}\n",
                                      h->id, J (id, B.px->cfg->capsule_id), J (ag, B.agent), cap->r.name, fields,
                                      wall_s (), wall_s () + B.timeout_ms / 1000);
  cleanup_free char *j = NULL, *d = NULL;
  pending_paths (h->id, &j, &d);
  if (write_file_atomic (j, rec, strlen (rec), err) < 0)
    {
      free (h);
      return -1;
    }
  cleanup_free char *extra = xasprintf (",%s,\"timeout_s\":%" PRIu64, fields, B.timeout_ms / 1000);
  baudit ("capability.pending", cap, h->id, extra);
  fprintf (stderr, "capsule-proxy: capability %s: request %s held for approval\n", cap->r.name, h->id);
  h->next = B.held;
  B.held = h;
  return 0;
}

void
broker_forget (struct conn *c)
{
  for (struct held *h = B.held, *n; h; h = n)
    {
      n = h->next;
      if (h->conn == c)
        {
          held_take (h);
          held_unlink (h);
          baudit ("capability.abandoned", h->cap, h->id, ",\"reason\":\"client went away\"");
          free (h);
        }
    }
}

/* A decision file (or its absence) for each held request. */
static void
scan_decisions (void)
{
  for (struct held *h = B.held, *n; h; h = n)
    {
      n = h->next;
      cleanup_free char *j = NULL, *d = NULL;
      pending_paths (h->id, &j, &d);
      cleanup_free char *text = NULL;
      cr_error_t err = NULL;
      if (read_file (d, &text, NULL, &err) < 0)
        {
          cr_error_release (&err);
          continue;
        }
      bool approve = strncmp (text, "approve", 7) == 0;
      char reason[128];
      snprintf (reason, sizeof reason, "capability %s: %s by the operator", h->cap->r.name,
                approve ? "approved" : "denied");
      held_resolve (h, approve, approve ? "capability.approved" : "capability.denied", reason);
    }
}

static void
expire (uint64_t now)
{
  for (struct held *h = B.held, *n; h; h = n)
    {
      n = h->next;
      if (now >= h->deadline_ms)
        {
          char reason[128];
          snprintf (reason, sizeof reason, "capability %s: not approved in time", h->cap->r.name);
          held_resolve (h, false, "capability.timeout", reason);
        }
    }
}

static void
killswitch_changed (const char *name, bool present)
{
  if (strncmp (name, "capability-", 11) != 0)
    return;
  for (size_t i = 0; i < B.n; i++)
    if (strcmp (B.caps[i].r.name, name + 11) == 0)
      {
        baudit (present ? "capability.revoked" : "capability.restored", &B.caps[i], NULL,
                ",\"source\":\"killswitch\"");
        if (!present)
          continue;
        for (struct held *h = B.held, *n; h; h = n)
          {
            n = h->next;
            if (h->cap == &B.caps[i])
              {
                char reason[128];
                snprintf (reason, sizeof reason, "capability %s revoked", h->cap->r.name);
                held_resolve (h, false, "capability.denied", reason);
              }
          }
      }
}

/* ---- lifecycle ---- */

static void
bcaps_free (struct bcap *caps, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      for (size_t k = 0; k < caps[i].n_approved; k++)
        free (caps[i].approved[k]);
      free (caps[i].approved);
      capability_rule_free (&caps[i].r);
    }
  free (caps);
}

static bool
str_eq (const char *a, const char *b)
{
  return (a == NULL && b == NULL) || (a && b && strcmp (a, b) == 0);
}

/* One directory per agent; the name made file-system safe. */
static char *
agent_dir_of (const char *agent_state_dir, const char *agent)
{
  cleanup_free char *safe = xstrdup (agent);
  for (char *p = safe; *p; p++)
    if (!(isalnum ((unsigned char) *p) || *p == '-' || *p == '_' || *p == '.'))
      *p = '_';
  return xasprintf ("%s/%s%s", agent_state_dir, safe[0] == '.' || !safe[0] ? "_" : "", safe);
}

void
broker_discard (struct broker_next *n)
{
  if (n == NULL)
    return;
  if (B.staged == n)
    B.staged = NULL;
  bcaps_free (n->caps, n->n);
  if (n->ino_fd >= 0)
    close (n->ino_fd); /* also leaves the epoll set */
  if (n->timer_fd >= 0)
    close (n->timer_fd);
  free (n->ino_ev);
  free (n->timer_ev);
  free (n->state_dir);
  free (n->bdir);
  free (n->pdir);
  free (n->agent);
  free (n->agent_dir);
  free (n->ks_dir);
  free (n);
}

/* The run's first capabilities: directories, inotify watches, the timer. */
static int
broker_setup (struct proxy *px, const struct broker_settings *s, const char *agent, struct broker_next *n,
              cr_error_t *err)
{
  n->setup = true;
  n->state_dir = xstrdup (s->state_dir);
  n->bdir = xasprintf ("%s/broker", s->state_dir);
  n->pdir = xasprintf ("%s/pending", s->state_dir);
  n->agent = xstrdup (agent);
  n->agent_dir = s->agent_state_dir ? agent_dir_of (s->agent_state_dir, agent) : NULL;
  n->ks_dir = s->killswitch_dir ? xstrdup (s->killswitch_dir) : NULL;
  if (mkdir_p (n->bdir, 0700, err) < 0 || mkdir_p (n->pdir, 0700, err) < 0
      || (n->agent_dir && mkdir_p (n->agent_dir, 0700, err) < 0))
    return cr_error_wrap (err, "brokered capabilities");
  /* Requests held by an earlier proxy died with its connections (nothing
   * is held here yet: the broker had no capabilities). */
  {
    cleanup_dir DIR *d = opendir (n->pdir);
    struct dirent *de;
    while (d && (de = readdir (d)))
      if (de->d_name[0] != '.')
        unlinkat (dirfd (d), de->d_name, 0);
  }
  n->ino_fd = inotify_init1 (IN_NONBLOCK | IN_CLOEXEC);
  n->timer_fd = timerfd_create (CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (n->ino_fd < 0 || n->timer_fd < 0)
    return cr_error_errno (err, "brokered capabilities: inotify/timerfd");
  if (inotify_add_watch (n->ino_fd, n->pdir, IN_MOVED_TO | IN_CLOSE_WRITE) < 0)
    return cr_error_errno (err, "watching `%s`", n->pdir);
  if (n->ks_dir)
    {
      if (mkdir_p (n->ks_dir, 0755, err) < 0)
        return cr_error_wrap (err, "kill-switch directory");
      if (inotify_add_watch (n->ino_fd, n->ks_dir, IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM) < 0)
        return cr_error_errno (err, "watching the kill-switch directory `%s`", n->ks_dir);
    }
  /* timeouts (and a decision whose inotify event was lost) every 250 ms */
  struct itimerspec its = { .it_interval = { 0, 250000000 }, .it_value = { 0, 250000000 } };
  timerfd_settime (n->timer_fd, 0, &its, NULL);
  n->ino_ev = xmalloc0 (sizeof *n->ino_ev);
  n->timer_ev = xmalloc0 (sizeof *n->timer_ev);
  n->ino_ev->kind = n->timer_ev->kind = EV_SIGNAL; /* never dispatched by kind: broker_event claims them first */
  n->ino_ev->obj = n->timer_ev->obj = &B;
  /* registered now so that applying cannot fail; until then broker_event
   * drains them */
  struct epoll_event e1 = { .events = EPOLLIN, .data.ptr = n->ino_ev };
  struct epoll_event e2 = { .events = EPOLLIN, .data.ptr = n->timer_ev };
  if (epoll_ctl (px->epfd, EPOLL_CTL_ADD, n->ino_fd, &e1) < 0 || epoll_ctl (px->epfd, EPOLL_CTL_ADD, n->timer_fd, &e2) < 0)
    return cr_error_errno (err, "brokered capabilities: epoll");
  return 0;
}

int
broker_prepare (struct proxy *px, const struct broker_settings *s, struct broker_next **out, cr_error_t *err)
{
  B.px = px;
  *out = NULL;
  if (s->n > 0 && s->state_dir == NULL)
    return cr_error (err, EINVAL, "config: `capabilities` need a `state_dir` for their counters");
  struct broker_next *n = xmalloc0 (sizeof *n);
  n->ino_fd = n->timer_fd = -1;
  n->caps = xmalloc0 ((s->n ? s->n : 1) * sizeof *n->caps);
  n->timeout_ms = (uint64_t) (s->confirm_timeout_s > 0 ? s->confirm_timeout_s : BROKER_DEFAULT_TIMEOUT_S) * 1000;
  for (size_t i = 0; i < s->n; i++)
    {
      if (capability_rule_parse (s->names[i], s->values[i], &n->caps[i].r, err) < 0)
        {
          broker_discard (n);
          return -1;
        }
      n->n++;
    }
  const char *agent = s->agent ? s->agent : px->cfg->capsule_id;
  const char *bdir = B.bdir;
  if (s->n > 0 && B.state_dir)
    {
      /* Counters, approvals and held requests live there: the places are
       * fixed for the run. */
      cleanup_free char *adir = s->agent_state_dir ? agent_dir_of (s->agent_state_dir, agent) : NULL;
      const char *what = !str_eq (s->state_dir, B.state_dir)  ? "state_dir"
                         : !str_eq (agent, B.agent)           ? "agent"
                         : !str_eq (adir, B.agent_dir)        ? "agent_state_dir"
                         : !str_eq (s->killswitch_dir, B.ks_dir) ? "killswitch_dir"
                                                              : NULL;
      if (what)
        {
          broker_discard (n);
          return cr_error (err, 0, "brokered capabilities: `%s` cannot change while the proxy runs (restart it)", what);
        }
    }
  else if (s->n > 0)
    {
      if (broker_setup (px, s, agent, n, err) < 0)
        {
          broker_discard (n);
          return -1;
        }
      bdir = n->bdir;
    }
  for (size_t i = 0; i < n->n; i++)
    if (n->caps[i].r.confirm == CAPABILITY_CONFIRM_NEW)
      approved_load (&n->caps[i], bdir);
  B.staged = n;
  *out = n;
  return 0;
}

static struct bcap *
bcap_find (struct bcap *caps, size_t n, const char *name)
{
  for (size_t i = 0; i < n; i++)
    if (strcmp (caps[i].r.name, name) == 0)
      return &caps[i];
  return NULL;
}

/* Append "NAME" to a ", "-separated list in buf (truncated quietly). */
static void
list_add (char *buf, size_t sz, const char *name)
{
  size_t l = strlen (buf);
  if (l < sz)
    snprintf (buf + l, sz - l, "%s%s", l ? "," : "", name);
}

void
broker_apply (struct broker_next *n, char *summary, size_t sz)
{
  struct bcap *old = B.caps;
  size_t on = B.n;
  if (n->setup)
    {
      B.state_dir = steal_pointer (&n->state_dir);
      B.bdir = steal_pointer (&n->bdir);
      B.pdir = steal_pointer (&n->pdir);
      B.agent = steal_pointer (&n->agent);
      B.agent_dir = steal_pointer (&n->agent_dir);
      B.ks_dir = steal_pointer (&n->ks_dir);
      B.ino_fd = n->ino_fd, B.timer_fd = n->timer_fd;
      B.ino_ev = steal_pointer (&n->ino_ev);
      B.timer_ev = steal_pointer (&n->timer_ev);
      n->ino_fd = n->timer_fd = -1;
      B.started = true;
    }
  if (n->setup || n->n > 0)
    B.timeout_ms = n->timeout_ms; /* for requests held from now on */
  B.caps = steal_pointer (&n->caps);
  B.n = n->n;
  n->n = 0;
  broker_discard (n);

  /* Held requests of a capability that still exists stay held (as that
   * capability, with its new rule and rate once approved). */
  for (struct held *h = B.held; h; h = h->next)
    if (h->cap >= old && h->cap < old + on)
      {
        struct bcap *nc = bcap_find (B.caps, B.n, h->cap->r.name);
        if (nc)
          h->cap = nc;
      }
  char added[256] = "", removed[256] = "", changed[256] = "";
  for (size_t i = 0; i < B.n; i++)
    {
      struct bcap *oc = bcap_find (old, on, B.caps[i].r.name);
      if (oc && strcmp (oc->r.value, B.caps[i].r.value) == 0)
        continue;
      list_add (oc ? changed : added, sizeof added, B.caps[i].r.name);
      cleanup_free char *extra = NULL;
      char v[600];
      extra = xasprintf (",\"rule\":\"%s\"%s", J (v, B.caps[i].r.value), revoked (&B.caps[i]) ? ",\"revoked\":true" : "");
      baudit ("capability.enabled", &B.caps[i], NULL, extra);
    }
  for (size_t i = 0; i < on; i++)
    if (bcap_find (B.caps, B.n, old[i].r.name) == NULL)
      {
        list_add (removed, sizeof removed, old[i].r.name);
        baudit ("capability.removed", &old[i], NULL, ",\"source\":\"reload\"");
      }
  /* ...and those of a removed capability are denied.  The resumed
   * connections may hold new requests (on the new capabilities): start
   * over after each answer. */
  for (bool again = true; again;)
    {
      again = false;
      for (struct held *h = B.held; h; h = h->next)
        if (h->cap >= old && h->cap < old + on)
          {
            char reason[160];
            snprintf (reason, sizeof reason, "capability %s removed by a reload", h->cap->r.name);
            held_resolve (h, false, "capability.denied", reason);
            again = true;
            break;
          }
    }
  bcaps_free (old, on);
  if (summary)
    snprintf (summary, sz, "%zu capabilities%s%s%s%s%s%s%s", B.n, added[0] ? ", added " : "", added,
              removed[0] ? ", removed " : "", removed, changed[0] ? ", changed " : "", changed,
              B.held ? " (held requests kept)" : "");
}

int
broker_start (struct proxy *px, const struct broker_settings *s, cr_error_t *err)
{
  struct broker_next *n;
  if (broker_prepare (px, s, &n, err) < 0)
    return -1;
  broker_apply (n, NULL, 0);
  return 0;
}

bool
broker_event (struct proxy *px, struct ev *ev)
{
  (void) px;
  if (B.staged && (ev == B.staged->ino_ev || ev == B.staged->timer_ev))
    {
      /* not applied yet: nothing can be held or revoked for it */
      char buf[4096] __attribute__ ((aligned (__alignof__ (struct inotify_event))));
      while (read (ev == B.staged->ino_ev ? B.staged->ino_fd : B.staged->timer_fd, buf, sizeof buf) > 0)
        ;
      return true;
    }
  if (!B.started || (ev != B.ino_ev && ev != B.timer_ev))
    return false;
  if (ev == B.timer_ev)
    {
      uint64_t ticks;
      if (read (B.timer_fd, &ticks, sizeof ticks) < 0)
        { /* spurious wake-up */
        }
      if (B.held)
        {
          scan_decisions ();
          expire (B.px->now_ms);
        }
      return true;
    }
  char buf[8192] __attribute__ ((aligned (__alignof__ (struct inotify_event))));
  bool decisions = false;
  ssize_t n;
  while ((n = read (B.ino_fd, buf, sizeof buf)) > 0)
    for (char *p = buf; p < buf + n;)
      {
        struct inotify_event *ie = (struct inotify_event *) p;
        p += sizeof *ie + ie->len;
        if (ie->len == 0)
          continue;
        size_t l = strlen (ie->name);
        if (l > 9 && strcmp (ie->name + l - 9, ".decision") == 0)
          decisions = true;
        else if (strncmp (ie->name, "capability-", 11) == 0)
          killswitch_changed (ie->name, (ie->mask & (IN_CREATE | IN_MOVED_TO)) != 0);
      }
  if (decisions)
    scan_decisions ();
  return true;
}

void
broker_stop (struct proxy *px)
{
  (void) px;
  broker_discard (B.staged);
  while (B.held)
    {
      struct held *h = B.held;
      B.held = h->next;
      held_unlink (h);
      free (h);
    }
  bcaps_free (B.caps, B.n);
  if (B.ino_fd >= 0)
    close (B.ino_fd);
  if (B.timer_fd >= 0)
    close (B.timer_fd);
  free (B.ino_ev);
  free (B.timer_ev);
  free (B.state_dir);
  free (B.bdir);
  free (B.pdir);
  free (B.agent);
  free (B.agent_dir);
  free (B.ks_dir);
  memset (&B, 0, sizeof B);
  B.ino_fd = B.timer_fd = -1;
}

const struct egress_rule *
broker_host_rule (const char *host, enum egress_host_kind kind)
{
  for (size_t i = 0; i < B.n; i++)
    if (egress_rule_host_matches (&B.caps[i].r.rule, host, kind))
      return &B.caps[i].r.rule;
  return NULL;
}

/* ---- the decision ---- */

/* rate_take with its refusal in v: 429 over the rate, 503 on an error. */
static int
rate_check (struct bcap *cap, bool count, struct broker_verdict *v)
{
  cr_error_t err = NULL;
  const char *who = NULL;
  int rr = rate_take (cap, count, &who, &err);
  if (rr < 0)
    {
      fprintf (stderr, "capsule-proxy: capability %s: %s\n", cap->r.name, err->msg);
      cr_error_release (&err);
      v->status = 503;
      v->phrase = "Service Unavailable";
      snprintf (v->reason, sizeof v->reason, "capability %s: cannot record its use", cap->r.name);
      return -1;
    }
  if (rr > 0)
    {
      v->status = 429;
      v->phrase = "Too Many Requests";
      snprintf (v->reason, sizeof v->reason, "capability %s: rate %" PRIu64 "/%" PRIu64 "s reached for this %s",
                cap->r.name, cap->r.rate_n, cap->r.rate_period_s, who);
      return -1;
    }
  return 0;
}

static enum broker_outcome
refuse (struct broker_verdict *v, int status, const char *phrase, const char *fmt, const char *name, const char *arg)
{
  v->status = status;
  v->phrase = phrase;
  snprintf (v->reason, sizeof v->reason, fmt, name, arg);
  return BROKER_DENY;
}

enum broker_outcome
broker_decide (struct proxy *px, struct conn *c, const struct broker_request *r, struct broker_verdict *v)
{
  (void) px;
  memset (v, 0, sizeof *v);
  struct bcap *cap = NULL;
  for (size_t i = 0; i < B.n && cap == NULL; i++)
    if (capability_rule_matches (&B.caps[i].r, r->method, r->host, r->hkind, r->port, r->path))
      cap = &B.caps[i];
  if (cap == NULL)
    return BROKER_PASS;
  const char *name = cap->r.name;
  if (revoked (cap))
    return refuse (v, 403, "Forbidden", "capability %s revoked%s", name, "");

  /* confirm=new:FIELD decides on the JSON body: it must be all here */
  cleanup_free char *value = NULL;
  bool ask = cap->r.confirm == CAPABILITY_CONFIRM_ALWAYS;
  if (cap->r.confirm == CAPABILITY_CONFIRM_NEW)
    {
      if (r->chunked)
        return refuse (v, 411, "Length Required", "capability %s: confirm=new:%s needs a Content-Length body", name,
                       cap->r.confirm_field);
      if (r->content_length > 0 && (uint64_t) r->content_length > r->body_room)
        return refuse (v, 413, "Content Too Large", "capability %s: body too large to check %s", name,
                       cap->r.confirm_field);
      if (r->content_length > 0 && r->body_len < (size_t) r->content_length)
        return BROKER_MORE;
      if (r->content_length > 0)
        value = json_field (r->body, r->content_length, cap->r.confirm_field);
      ask = value == NULL || !approved_has (cap, value);
    }

  cr_error_t err = NULL;
  if (rate_check (cap, false, v) < 0)
    return BROKER_DENY;
  if (ask && !r->approved)
    {
      if (hold (c, cap, r, value, &err) < 0)
        {
          fprintf (stderr, "capsule-proxy: capability %s: %s\n", name, err->msg);
          cr_error_release (&err);
          return refuse (v, 503, "Service Unavailable", "capability %s: cannot hold the request for approval%s", name,
                         "");
        }
      return BROKER_HOLD;
    }
  if (r->approved && value && approved_add (cap, value, &err) < 0)
    {
      /* the request was approved: let it through, it will be asked again next time */
      fprintf (stderr, "capsule-proxy: capability %s: %s\n", name, err->msg);
      cr_error_release (&err);
    }
  v->rule = &cap->r.rule;
  v->cap = cap;
  return BROKER_ALLOW;
}

int
broker_commit (struct broker_verdict *v)
{
  return v->cap ? rate_check (v->cap, true, v) : 0;
}
