#include "capsule_glue.h"

#include <string.h>

/* Until capsule mode is wired in: every container is a plain one, except
 * that a capsule-annotated config is refused rather than run unconfined
 * (capsule mode fails closed, SPEC §4). */
int
capsule_glue_admit (struct oci_config *c, const char *id, const char *root, int dirfd, struct capsule_glue *g,
                    cr_error_t *err)
{
  (void) id;
  (void) root;
  (void) dirfd;
  memset (g, 0, sizeof *g);
  for (size_t i = 0; i < c->annotations_len; i++)
    if (strncmp (c->annotations[i].key, "capsule/", 8) == 0)
      return cr_error (err, 0, "annotation %s: capsule mode is not available in this build", c->annotations[i].key);
  return 0;
}

int
capsule_glue_started (struct capsule_glue *g, const char *root, int dirfd, const struct cr_state *st, cr_error_t *err)
{
  (void) g;
  (void) root;
  (void) dirfd;
  (void) st;
  (void) err;
  return 0;
}

void
capsule_glue_release (struct capsule_glue *g)
{
  (void) g;
}

void
capsule_glue_abort (const char *root, const char *id)
{
  (void) root;
  (void) id;
}

void
capsule_glue_delete (const char *root, const char *id, int dirfd)
{
  (void) root;
  (void) id;
  (void) dirfd;
}

int
capsule_glue_exec (const struct oci_config *c, struct oci_process *p, const char *root, const char *id, int dirfd,
                   struct capsule_glue *g, cr_error_t *err)
{
  (void) c;
  (void) p;
  (void) root;
  (void) id;
  (void) dirfd;
  (void) err;
  memset (g, 0, sizeof *g);
  return 0;
}
