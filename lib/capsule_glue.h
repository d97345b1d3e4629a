/* Where the container lifecycle meets capsule mode: admission (which may
 * refuse or tighten the config), the confinement the init applies before
 * execve, the per-capsule monitor and network containment, and their
 * teardown.  For a plain container every call is a no-op. */
#ifndef CAPSULE_GLUE_H
#define CAPSULE_GLUE_H

#include <stdbool.h>

#include "../oci-spec/config.h"
#include "error.h"
#include "state.h"

struct capsule_monitor_thread;

struct capsule_glue
{
  bool enabled;
  void *eff;                                          /* struct capsule_effective * */
  int (*confine) (const void *data, cr_error_t *err); /* run in init before execve */
  const void *confine_data;
  bool loopback_up;                                   /* network "none": the init brings lo up itself */
  struct capsule_monitor_thread *monitor_thread;      /* in-process monitor (foreground `run`), else NULL */
};

int capsule_glue_admit (struct oci_config *c, const char *id, const char *root, int dirfd, struct capsule_glue *g,
                        cr_error_t *err);
/* The init exists and is set up: start the monitor (timeout, kill switch):
 * a daemon, or with in_process a thread left in g->monitor_thread (see
 * capsule_monitor_start_thread; release stops it if create fails later). */
int capsule_glue_started (struct capsule_glue *g, const char *root, int dirfd, const struct cr_state *st,
                          bool in_process, cr_error_t *err);
void capsule_glue_release (struct capsule_glue *g);
#define cleanup_capsule_glue __attribute__ ((cleanup (capsule_glue_release)))
/* A create failed half-way: release whatever admission took (concurrency slot, pins). */
void capsule_glue_abort (const char *root, const char *id);
/* exec into a capsule: the same confinement as its init (and the process' caps stripped). */
int capsule_glue_exec (const struct oci_config *c, struct oci_process *p, const char *root, const char *id, int dirfd,
                       struct capsule_glue *g, cr_error_t *err);
/* delete: stop the monitor, release the slot, network teardown, audit. */
void capsule_glue_delete (const char *root, const char *id, int dirfd);

#endif
