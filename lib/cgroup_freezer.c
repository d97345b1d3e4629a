/* Freezer (pause/resume) and signalling every process of a cgroup.
 * v1: freezer.state FROZEN/THAWED, polled until it settles.
 * v2: cgroup.freeze + cgroup.events "frozen", cgroup.kill for SIGKILL.
 * Hybrid: the v1 freezer when mounted, else the unified dir's cgroup.freeze;
 * cgroup.kill of the unified dir first, then the v1 loop for stragglers. */
#include "cgroup.h"
#include "cgroup_internal.h"
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#define FREEZE_TIMEOUT_MS 10000

static void
sleep_ms (long ms)
{
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  while (nanosleep (&ts, &ts) < 0 && errno == EINTR)
    ;
}

/* The dir to freeze through and whether it is v2. */
static char *
freezer_dir (const struct cr_cgroup *cg, bool *v2)
{
  if (cg->mode != CR_CGROUP_V2)
    {
      const struct cr_cgroup_hier *h = cr_cgroup_v1_hier ("freezer");
      if (h)
        {
          *v2 = false;
          return cr_cgroup_dir (h, cg->path);
        }
    }
  const struct cr_cgroup_hier *h = cr_cgroup_v2_hier ();
  if (h == NULL)
    return NULL;
  *v2 = true;
  return cr_cgroup_dir (h, cg->path);
}

static int
v2_events_frozen (const char *d, cr_error_t *err)
{
  cleanup_free char *ev = NULL;
  uint64_t v = 0;
  if (cr_cgroup_read (d, "cgroup.events", &ev, err) < 0)
    return -1;
  return cr_cgroup_kv_get (ev, "frozen", &v) && v == 1;
}

static int
v1_set_state (const char *d, bool freeze, cr_error_t *err)
{
  const char *want = freeze ? "FROZEN" : "THAWED";
  for (long waited = 0, delay = 1;; waited += delay)
    {
      /* Re-write now and then: tasks forked mid-freeze can leave it FREEZING. */
      if ((waited == 0 || waited % 100 < delay) && cr_cgroup_write (d, "freezer.state", want, err) < 0)
        return -1;
      cleanup_free char *st = NULL;
      if (cr_cgroup_read (d, "freezer.state", &st, err) < 0)
        return -1;
      if (strcmp (st, want) == 0)
        return 0;
      if (waited >= FREEZE_TIMEOUT_MS)
        return cr_error (err, ETIMEDOUT, "freezer.state of `%s` stuck at %s (wanted %s)", d, st, want);
      sleep_ms (delay);
      if (delay < 10)
        delay++;
    }
}

static int
v2_set_state (const char *d, bool freeze, cr_error_t *err)
{
  if (cr_cgroup_write (d, "cgroup.freeze", freeze ? "1" : "0", err) < 0)
    return -1;
  for (long waited = 0, delay = 1;; waited += delay)
    {
      int f = v2_events_frozen (d, err);
      if (f < 0)
        return -1;
      if (f == (freeze ? 1 : 0))
        return 0;
      if (waited >= FREEZE_TIMEOUT_MS)
        return cr_error (err, ETIMEDOUT, "cgroup `%s` did not become %s", d, freeze ? "frozen" : "thawed");
      sleep_ms (delay);
      if (delay < 10)
        delay++;
    }
}

int
cr_cgroup_freeze (const struct cr_cgroup *cg, bool freeze, cr_error_t *err)
{
  bool v2 = false;
  cleanup_free char *d = freezer_dir (cg, &v2);
  if (d == NULL)
    return cr_error (err, ENOENT, "%s cgroup `%s`: no freezer available", freeze ? "freeze" : "thaw", cg->path);
  /* Thawing a thawed cgroup (delete does it every time) is one read, not a write and a read. */
  if (!freeze)
    {
      cleanup_free char *st = NULL;
      cr_error_t e = NULL;
      bool thawed = cr_cgroup_read (d, v2 ? "cgroup.freeze" : "freezer.state", &st, &e) == 0
                    && strcmp (st, v2 ? "0" : "THAWED") == 0 && (!v2 || v2_events_frozen (d, &e) == 0);
      cr_error_release (&e);
      if (thawed)
        return 0;
    }
  int r = v2 ? v2_set_state (d, freeze, err) : v1_set_state (d, freeze, err);
  if (r < 0)
    {
      /* A half-frozen container is worse than a running one. */
      if (freeze)
        {
          if (v2)
            v2_set_state (d, false, NULL);
          else
            v1_set_state (d, false, NULL);
        }
      return cr_error_wrap (err, "%s cgroup `%s`", freeze ? "freeze" : "thaw", cg->path);
    }
  return 0;
}

int
cr_cgroup_is_frozen (const struct cr_cgroup *cg, cr_error_t *err)
{
  bool v2 = false;
  cleanup_free char *d = freezer_dir (cg, &v2);
  if (d == NULL)
    return 0;
  if (v2)
    {
      cleanup_free char *f = NULL;
      if (cr_cgroup_read (d, "cgroup.freeze", &f, err) < 0)
        return -1;
      if (strcmp (f, "1") != 0)
        return 0;
      return v2_events_frozen (d, err);
    }
  cleanup_free char *st = NULL;
  if (cr_cgroup_read (d, "freezer.state", &st, err) < 0)
    return -1;
  return strcmp (st, "FROZEN") == 0;
}

/* cgroup.kill of the v2 dir, if the kernel has it: 1 = done, 0 = not available. */
static int
v2_kill (const struct cr_cgroup *cg, cr_error_t *err)
{
  const struct cr_cgroup_hier *h = cr_cgroup_v2_hier ();
  if (h == NULL)
    return 0;
  cleanup_free char *d = cr_cgroup_dir (h, cg->path);
  if (!cr_cgroup_file_exists (d, "cgroup.kill"))
    return 0;
  if (cr_cgroup_write (d, "cgroup.kill", "1", err) < 0)
    return -1;
  return 1;
}

int
cr_cgroup_kill_all (const struct cr_cgroup *cg, int sig, cr_error_t *err)
{
  if (sig == SIGKILL)
    {
      int r = v2_kill (cg, err);
      if (r < 0)
        return cr_error_wrap (err, "kill processes of cgroup `%s`", cg->path);
      if (r > 0 && cg->mode == CR_CGROUP_V2)
        return 0;
    }
  /* An empty cgroup has nobody to signal, and nobody in it can fork. */
  {
    pid_t *pids = NULL;
    size_t n = 0;
    cr_error_t e = NULL;
    int r = cr_cgroup_pids (cg, &pids, &n, &e);
    free (pids);
    cr_error_release (&e);
    if (r == 0 && n == 0)
      return 0;
  }
  /* Freeze so nothing forks between listing and signalling. */
  int was_frozen = cr_cgroup_is_frozen (cg, NULL);
  cr_error_t ferr = NULL;
  bool frozen = was_frozen > 0 || cr_cgroup_freeze (cg, true, &ferr) == 0;
  cr_error_release (&ferr);
  pid_t *pids = NULL;
  size_t n = 0;
  int ret = cr_cgroup_pids (cg, &pids, &n, err);
  for (size_t i = 0; ret == 0 && i < n; i++)
    if (kill (pids[i], sig) < 0 && errno != ESRCH)
      ret = cr_error_errno (err, "kill pid %d with signal %d", (int) pids[i], sig);
  free (pids);
  /* Leave a paused container paused, unless it has to run to die. */
  if (frozen && (was_frozen <= 0 || sig == SIGKILL) && cr_cgroup_freeze (cg, false, ret < 0 ? NULL : err) < 0)
    ret = -1;
  return ret < 0 ? cr_error_wrap (err, "kill processes of cgroup `%s`", cg->path) : 0;
}
