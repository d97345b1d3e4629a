#include "mount_opts.h"

#include <string.h>
#include <sys/mount.h>

#include "util.h"

static const struct
{
  const char *name;
  unsigned long set, clear;
} flag_table[] = {
  { "ro", MS_RDONLY, 0 },         { "rw", 0, MS_RDONLY },           { "nosuid", MS_NOSUID, 0 },
  { "suid", 0, MS_NOSUID },       { "nodev", MS_NODEV, 0 },         { "dev", 0, MS_NODEV },
  { "noexec", MS_NOEXEC, 0 },     { "exec", 0, MS_NOEXEC },         { "sync", MS_SYNCHRONOUS, 0 },
  { "async", 0, MS_SYNCHRONOUS }, { "dirsync", MS_DIRSYNC, 0 },     { "remount", MS_REMOUNT, 0 },
  { "mand", MS_MANDLOCK, 0 },     { "nomand", 0, MS_MANDLOCK },     { "atime", 0, MS_NOATIME },
  { "noatime", MS_NOATIME, 0 },   { "diratime", 0, MS_NODIRATIME }, { "nodiratime", MS_NODIRATIME, 0 },
  { "relatime", MS_RELATIME, 0 }, { "norelatime", 0, MS_RELATIME }, { "strictatime", MS_STRICTATIME, 0 },
  { "nostrictatime", 0, MS_STRICTATIME }, { "silent", MS_SILENT, 0 }, { "loud", 0, MS_SILENT },
};

static const struct
{
  const char *name;
  unsigned long flags;
} prop_table[] = {
  { "private", MS_PRIVATE },           { "rprivate", MS_PRIVATE | MS_REC },
  { "shared", MS_SHARED },             { "rshared", MS_SHARED | MS_REC },
  { "slave", MS_SLAVE },               { "rslave", MS_SLAVE | MS_REC },
  { "unbindable", MS_UNBINDABLE },     { "runbindable", MS_UNBINDABLE | MS_REC },
};

long
cr_propagation_flags (const char *name, cr_error_t *err)
{
  for (size_t i = 0; i < sizeof prop_table / sizeof prop_table[0]; i++)
    if (strcmp (prop_table[i].name, name) == 0)
      return (long) prop_table[i].flags;
  return cr_error (err, 0, "linux.rootfsPropagation: unknown value \"%s\"", name);
}

static void
data_append (struct cr_mount_opts *o, const char *opt)
{
  if (o->data == NULL)
    o->data = xstrdup (opt);
  else
    {
      char *n = xasprintf ("%s,%s", o->data, opt);
      free (o->data);
      o->data = n;
    }
}

int
cr_mount_opts_parse (char **options, size_t n, struct cr_mount_opts *o, cr_error_t *err)
{
  (void) err;
  memset (o, 0, sizeof *o);
  for (size_t i = 0; i < n; i++)
    {
      const char *opt = options[i];
      bool known = false;
      for (size_t k = 0; k < sizeof flag_table / sizeof flag_table[0]; k++)
        if (strcmp (flag_table[k].name, opt) == 0)
          {
            o->flags = (o->flags & ~flag_table[k].clear) | flag_table[k].set;
            o->clear = (o->clear & ~flag_table[k].set) | flag_table[k].clear;
            known = true;
          }
      for (size_t k = 0; !known && k < sizeof prop_table / sizeof prop_table[0]; k++)
        if (strcmp (prop_table[k].name, opt) == 0)
          {
            o->propagation = prop_table[k].flags;
            known = true;
          }
      if (known)
        continue;
      if (strcmp (opt, "bind") == 0)
        o->bind = true;
      else if (strcmp (opt, "rbind") == 0)
        o->bind = o->rec_bind = true;
      else if (strcmp (opt, "idmap") == 0)
        o->idmap = true;
      else if (strcmp (opt, "ridmap") == 0)
        o->idmap = o->rec_idmap = true;
      else if (strcmp (opt, "rro") == 0)
        o->rec_ro = true;
      else if (strcmp (opt, "tmpcopyup") == 0 || strcmp (opt, "rrw") == 0 || strcmp (opt, "defaults") == 0)
        ; /* accepted; nothing to do */
      else if (opt[0] == 'r' && (strcmp (opt, "rnosuid") == 0 || strcmp (opt, "rnodev") == 0 || strcmp (opt, "rnoexec") == 0))
        {
          /* recursive flag: approximated by the plain flag on the top mount */
          for (size_t k = 0; k < sizeof flag_table / sizeof flag_table[0]; k++)
            if (strcmp (flag_table[k].name, opt + 1) == 0)
              o->flags |= flag_table[k].set;
        }
      else
        data_append (o, opt);
    }
  return 0;
}

void
cr_mount_opts_release (struct cr_mount_opts *o)
{
  free (o->data);
  o->data = NULL;
}
