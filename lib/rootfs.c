#include "rootfs.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "mount_opts.h"
#include "util.h"

static int
sys_openat2 (int dirfd, const char *path, int flags, unsigned long long resolve)
{
  struct open_how how = { .flags = (unsigned long long) flags, .mode = 0, .resolve = resolve };
  return (int) syscall (SYS_openat2, dirfd, path, &how, sizeof how);
}

int
cr_open_in_root (int rootfd, const char *path, bool create, bool as_file, cr_error_t *err)
{
  const unsigned long long res = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  while (*path == '/')
    path++;
  if (*path == '\0')
    {
      int fd = fcntl (rootfd, F_DUPFD_CLOEXEC, 0);
      return fd < 0 ? cr_error_errno (err, "dup rootfs fd") : fd;
    }
  int fd = sys_openat2 (rootfd, path, O_PATH | O_CLOEXEC, res);
  if (fd >= 0 || errno != ENOENT || !create)
    return fd >= 0 ? fd : cr_error_errno (err, "open `/%s` inside the rootfs", path);
  /* Create the missing components one by one, each resolved inside the root. */
  cleanup_free char *p = xstrdup (path);
  for (char *s = p;; s++)
    {
      bool last = *s == '\0';
      if (*s != '/' && !last)
        continue;
      char saved = *s;
      *s = '\0';
      if (*p)
        {
          int t = sys_openat2 (rootfd, p, O_PATH | O_CLOEXEC, res);
          if (t >= 0)
            close (t);
          else if (errno == ENOENT)
            {
              /* parent resolved safely, then create the leaf name in it */
              char *slash = strrchr (p, '/');
              cleanup_close int parent = -1;
              const char *leaf = p;
              if (slash)
                {
                  *slash = '\0';
                  parent = sys_openat2 (rootfd, p, O_PATH | O_DIRECTORY | O_CLOEXEC, res);
                  *slash = '/';
                  leaf = slash + 1;
                }
              else
                parent = fcntl (rootfd, F_DUPFD_CLOEXEC, 0);
              if (parent < 0)
                return cr_error_errno (err, "open parent of `/%s` inside the rootfs", p);
              int r;
              if (last && as_file)
                {
                  r = openat (parent, leaf, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
                  if (r >= 0)
                    close (r);
                }
              else
                r = mkdirat (parent, leaf, 0755);
              if (r < 0 && errno != EEXIST)
                return cr_error_errno (err, "create `/%s` inside the rootfs", p);
              if (r < 0 && !(last && as_file))
                {
                  /* A dangling symlink: create its target, still inside the root. */
                  char link[PATH_MAX];
                  ssize_t l = readlinkat (parent, leaf, link, sizeof link - 1);
                  if (l > 0)
                    {
                      link[l] = '\0';
                      cleanup_free char *dir = slash ? strndup (p, (size_t) (slash - p)) : xstrdup ("");
                      cleanup_free char *tgt = link[0] == '/' ? xstrdup (link) : xasprintf ("%s/%s", dir, link);
                      static __thread int depth;
                      if (depth > 40)
                        return cr_error (err, ELOOP, "create `/%s` inside the rootfs", p);
                      depth++;
                      int t2 = cr_open_in_root (rootfd, tgt, true, false, err);
                      depth--;
                      if (t2 < 0)
                        return -1;
                      close (t2);
                    }
                }
            }
          else
            return cr_error_errno (err, "open `/%s` inside the rootfs", p);
        }
      *s = saved;
      if (last)
        break;
    }
  fd = sys_openat2 (rootfd, path, O_PATH | O_CLOEXEC, res);
  return fd >= 0 ? fd : cr_error_errno (err, "open `/%s` inside the rootfs", path);
}

static char *
fd_path (int fd)
{
  return xasprintf ("/proc/self/fd/%d", fd);
}

/* Flags a bind remount must keep: in a user namespace the kernel locks them. */
static unsigned long
locked_flags (const char *path)
{
  struct statvfs sv;
  unsigned long f = 0;
  if (statvfs (path, &sv) < 0)
    return 0;
  if (sv.f_flag & ST_NOSUID)
    f |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV)
    f |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC)
    f |= MS_NOEXEC;
  if (sv.f_flag & ST_RDONLY)
    f |= MS_RDONLY;
  if (sv.f_flag & ST_NOATIME)
    f |= MS_NOATIME;
  if (sv.f_flag & ST_NODIRATIME)
    f |= MS_NODIRATIME;
  if (sv.f_flag & ST_RELATIME)
    f |= MS_RELATIME;
  return f;
}

static int
mount_cgroup (struct cr_rootfs_ctx *ctx, int rootfd, const struct oci_mount *m, const struct cr_mount_opts *o,
              cr_error_t *err)
{
  cleanup_close int tfd = cr_open_in_root (rootfd, m->destination, true, false, err);
  if (tfd < 0)
    return -1;
  cleanup_free char *target = fd_path (tfd);
  unsigned long ro = o->flags & MS_RDONLY;
  enum cr_cgroup_mode mode = cr_cgroup_mode ();
  const char *cg = ctx->cgroup_path ? ctx->cgroup_path : "/";
  if (mode == CR_CGROUP_V2)
    {
      if (ctx->cgroupns)
        {
          if (mount ("cgroup2", target, "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC | ro, NULL) < 0)
            return cr_error_errno (err, "mount cgroup2 on `%s`", m->destination);
          return 0;
        }
      cleanup_free char *src = xasprintf ("/sys/fs/cgroup%s", cg);
      if (mount (src, target, NULL, MS_BIND | MS_REC, NULL) < 0)
        return cr_error_errno (err, "bind cgroup `%s` on `%s`", src, m->destination);
      /* target names the covered directory: resolve again to reach the bind mount. */
      cleanup_close int bfd = cr_open_in_root (rootfd, m->destination, false, false, err);
      if (bfd < 0)
        return -1;
      cleanup_free char *bpath = fd_path (bfd);
      if (mount (NULL, bpath, NULL, MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV | MS_NOEXEC | ro, NULL) < 0)
        return cr_error_errno (err, "remount cgroup `%s`", m->destination);
      return 0;
    }
  /* v1 / hybrid: a tmpfs with one directory per hierarchy, each showing the
   * container's own cgroup as its root (what runc shows). */
  if (mount ("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755") < 0)
    return cr_error_errno (err, "mount tmpfs for cgroups on `%s`", m->destination);
  /* tfd still names the covered directory: resolve the path again to reach the new tmpfs. */
  cleanup_close int mfd = cr_open_in_root (rootfd, m->destination, false, false, err);
  if (mfd < 0)
    return -1;
  cleanup_free char *mpath = fd_path (mfd);
  cleanup_close int tmpfd = open (mpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (tmpfd < 0)
    return cr_error_errno (err, "open `%s`", m->destination);
  cleanup_free char *tmppath = fd_path (tmpfd);
  cleanup_dir DIR *d = opendir ("/sys/fs/cgroup");
  if (d == NULL)
    return cr_error_errno (err, "open /sys/fs/cgroup");
  struct dirent *de;
  while ((de = readdir (d)))
    {
      /* What runc shows on v1/hybrid: the v1 hierarchies (name=systemd too), not the unified one. */
      if (de->d_name[0] == '.' || strcmp (de->d_name, "unified") == 0)
        continue;
      cleanup_free char *hostdir = xasprintf ("/sys/fs/cgroup/%s", de->d_name);
      struct stat st;
      if (lstat (hostdir, &st) < 0)
        continue;
      if (S_ISLNK (st.st_mode))
        {
          char link[256];
          ssize_t l = readlink (hostdir, link, sizeof link - 1);
          if (l > 0)
            {
              link[l] = '\0';
              symlinkat (link, tmpfd, de->d_name);
            }
          continue;
        }
      if (!S_ISDIR (st.st_mode))
        continue;
      cleanup_free char *src = xasprintf ("%s%s", hostdir, cg);
      if (access (src, F_OK) < 0)
        continue;
      if (mkdirat (tmpfd, de->d_name, 0755) < 0 && errno != EEXIST)
        return cr_error_errno (err, "mkdir cgroup dir `%s`", de->d_name);
      cleanup_free char *dst = xasprintf ("%s/%s", tmppath, de->d_name);
      if (mount (src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
        return cr_error_errno (err, "bind cgroup `%s`", src);
      if (mount (NULL, dst, NULL, MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV | MS_NOEXEC | ro, NULL) < 0)
        return cr_error_errno (err, "remount cgroup `%s`", dst);
    }
  /* Like runc the tmpfs itself stays rw (it is empty but for the mount points); each hierarchy is ro. */
  return 0;
}

static int
do_one_mount (struct cr_rootfs_ctx *ctx, int rootfd, const struct oci_mount *m, cr_error_t *err)
{
  struct cr_mount_opts o;
  if (cr_mount_opts_parse (m->options, m->options_len, &o, err) < 0)
    return -1;
  const char *type = m->type ? m->type : "";
  int ret = 0;
  if (strcmp (type, "cgroup") == 0 || strcmp (type, "cgroup2") == 0)
    {
      ret = mount_cgroup (ctx, rootfd, m, &o, err);
      cr_mount_opts_release (&o);
      return ret;
    }
  bool bind = o.bind || strcmp (type, "bind") == 0;
  bool as_file = false;
  if (bind && m->source)
    {
      struct stat st;
      if (stat (m->source, &st) < 0)
        {
          cr_mount_opts_release (&o);
          return cr_error_errno (err, "mount source `%s` for `%s`", m->source, m->destination);
        }
      as_file = !S_ISDIR (st.st_mode);
    }
  cleanup_close int tfd = cr_open_in_root (rootfd, m->destination, true, as_file, err);
  if (tfd < 0)
    {
      cr_mount_opts_release (&o);
      return -1;
    }
  cleanup_free char *target = fd_path (tfd);
  int idmap_fd = -1;
  if (o.idmap && ctx->idmap_fds)
    idmap_fd = ctx->idmap_fds[m - ctx->config->mounts];
  if (o.idmap && idmap_fd < 0)
    ret = cr_error (err, 0, "idmapped mount `%s`: not prepared", m->destination);
  else if (idmap_fd >= 0)
    {
      /* Made and idmapped by the runtime on the host (cr_rootfs_idmap_prepare): attach it. */
      if (syscall (SYS_move_mount, idmap_fd, "", tfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        ret = cr_error_errno (err, "attach idmapped mount `%s`", m->destination);
      else if (o.flags & ~(MS_REC | MS_BIND | MS_REMOUNT))
        {
          cleanup_close int nfd = cr_open_in_root (rootfd, m->destination, false, false, err);
          cleanup_free char *np = nfd >= 0 ? fd_path (nfd) : NULL;
          if (np == NULL || mount (NULL, np, NULL, MS_BIND | MS_REMOUNT | o.flags, NULL) < 0)
            ret = cr_error_errno (err, "remount idmapped `%s`", m->destination);
        }
    }
  else if (bind)
    {
      unsigned long f = MS_BIND | (o.rec_bind ? MS_REC : 0);
      if (mount (m->source, target, NULL, f, NULL) < 0)
        ret = cr_error_errno (err, "bind mount `%s` to `%s`", m->source, m->destination);
      else if (o.flags & ~(MS_REC | MS_BIND | MS_REMOUNT))
        {
          /* The target fd still names the covered dir: remount through the mount point path. */
          cleanup_close int nfd = cr_open_in_root (rootfd, m->destination, false, false, err);
          cleanup_free char *np = nfd >= 0 ? fd_path (nfd) : NULL;
          if (np == NULL)
            ret = -1;
          else
            {
              unsigned long keep = locked_flags (np) & ~o.clear & (MS_NOSUID | MS_NODEV | MS_NOEXEC);
              if (mount (NULL, np, NULL, MS_BIND | MS_REMOUNT | o.flags | keep, NULL) < 0)
                ret = cr_error_errno (err, "remount bind `%s`", m->destination);
            }
        }
      if (ret == 0 && o.rec_ro)
        {
          cleanup_close int nfd = cr_open_in_root (rootfd, m->destination, false, false, err);
          struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
          if (nfd < 0 || syscall (SYS_mount_setattr, nfd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0)
            ret = cr_error_errno (err, "make `%s` recursively read-only", m->destination);
        }
    }
  else
    {
      const char *src = m->source ? m->source : type;
      if (mount (src, target, type, o.flags & ~MS_REMOUNT, o.data) < 0)
        {
          /* sysfs in a user namespace needs a network namespace it owns: like runc, fall
           * back to the host's /sys, bound recursively and remounted with the flags asked. */
          if (errno == EPERM && ctx->userns && strcmp (type, "sysfs") == 0)
            {
              if (mount ("/sys", target, NULL, MS_BIND | MS_REC, NULL) < 0)
                ret = cr_error_errno (err, "bind host /sys to `%s`", m->destination);
              else
                {
                  cleanup_close int nfd = cr_open_in_root (rootfd, m->destination, false, false, err);
                  cleanup_free char *np = nfd >= 0 ? fd_path (nfd) : NULL;
                  unsigned long keep = np ? locked_flags (np) & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY) : 0;
                  if (np == NULL || mount (NULL, np, NULL, MS_BIND | MS_REMOUNT | (o.flags & ~MS_REMOUNT) | keep, NULL) < 0)
                    ret = cr_error_errno (err, "remount host /sys at `%s`", m->destination);
                }
            }
          else
            ret = cr_error_errno (err, "mount `%s` (type %s) to `%s`", src, type, m->destination);
        }
    }
  if (ret == 0 && o.propagation)
    {
      cleanup_close int nfd = cr_open_in_root (rootfd, m->destination, false, false, err);
      cleanup_free char *np = nfd >= 0 ? fd_path (nfd) : NULL;
      if (np == NULL || mount (NULL, np, NULL, o.propagation, NULL) < 0)
        ret = cr_error_errno (err, "set propagation of `%s`", m->destination);
    }
  cr_mount_opts_release (&o);
  return ret;
}

static bool
dev_is_mounted_tmpfs (const struct oci_config *c)
{
  for (size_t i = 0; i < c->mounts_len; i++)
    if (strcmp (c->mounts[i].destination, "/dev") == 0)
      {
        const char *t = c->mounts[i].type ? c->mounts[i].type : "";
        for (size_t k = 0; k < c->mounts[i].options_len; k++)
          if (strcmp (c->mounts[i].options[k], "bind") == 0 || strcmp (c->mounts[i].options[k], "rbind") == 0)
            return false;
        return strcmp (t, "bind") != 0;
      }
  return false;
}

static int
make_device (struct cr_rootfs_ctx *ctx, int rootfd, const char *path, char type, long major, long minor, mode_t mode,
             uid_t uid, gid_t gid, cr_error_t *err)
{
  const char *rel = path;
  while (*rel == '/')
    rel++;
  char *slash = strrchr (rel, '/');
  cleanup_close int dirfd = -1;
  const char *leaf = rel;
  if (slash)
    {
      cleanup_free char *dir = strndup (rel, (size_t) (slash - rel));
      dirfd = cr_open_in_root (rootfd, dir, true, false, err);
      if (dirfd < 0)
        return -1;
      int real = openat (dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      close (dirfd);
      dirfd = real;
      leaf = slash + 1;
    }
  else
    dirfd = fcntl (rootfd, F_DUPFD_CLOEXEC, 0);
  if (dirfd < 0)
    return cr_error_errno (err, "open parent of device `%s`", path);
  mode_t kind = type == 'b' ? S_IFBLK : type == 'p' ? S_IFIFO : S_IFCHR;
  if (!ctx->userns)
    {
      unlinkat (dirfd, leaf, 0);
      if (mknodat (dirfd, leaf, kind | (mode & 07777), makedev (major, minor)) < 0)
        return cr_error_errno (err, "mknod device `%s`", path);
      if (fchownat (dirfd, leaf, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
        return cr_error_errno (err, "chown device `%s`", path);
      /* mknod honours umask; set the exact mode */
      if (fchmodat (dirfd, leaf, mode & 07777, 0) < 0)
        return cr_error_errno (err, "chmod device `%s`", path);
      return 0;
    }
  /* In a user namespace: bind the host's node over an empty file. */
  int f = openat (dirfd, leaf, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0000);
  if (f < 0)
    return cr_error_errno (err, "create device placeholder `%s`", path);
  cleanup_free char *tp = fd_path (f);
  int r = mount (path, tp, NULL, MS_BIND, NULL);
  close (f);
  if (r < 0)
    return cr_error_errno (err, "bind host device `%s`", path);
  return 0;
}

static int
setup_dev (struct cr_rootfs_ctx *ctx, int rootfd, cr_error_t *err)
{
  static const struct
  {
    const char *path;
    long major, minor;
  } defaults[] = {
    { "/dev/null", 1, 3 }, { "/dev/zero", 1, 5 }, { "/dev/full", 1, 7 },
    { "/dev/random", 1, 8 }, { "/dev/urandom", 1, 9 }, { "/dev/tty", 5, 0 },
  };
  const struct oci_linux *l = ctx->config->linux_;
  for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
    {
      bool overridden = false;
      for (size_t k = 0; l && k < l->devices_len; k++)
        if (strcmp (l->devices[k].path, defaults[i].path) == 0)
          overridden = true;
      if (!overridden
          && make_device (ctx, rootfd, defaults[i].path, 'c', defaults[i].major, defaults[i].minor, 0666, 0, 0, err) < 0)
        return -1;
    }
  for (size_t k = 0; l && k < l->devices_len; k++)
    {
      const struct oci_device *d = &l->devices[k];
      if (make_device (ctx, rootfd, d->path, d->type ? d->type[0] : 'c', (long) d->major, (long) d->minor,
                       d->has_file_mode ? d->file_mode : 0666, d->has_uid ? d->uid : 0, d->has_gid ? d->gid : 0, err) < 0)
        return -1;
    }
  cleanup_close int devfd = cr_open_in_root (rootfd, "/dev", true, false, err);
  if (devfd < 0)
    return -1;
  cleanup_free char *dp = fd_path (devfd);
  cleanup_close int real = open (dp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (real < 0)
    return cr_error_errno (err, "open /dev");
  static const char *links[][2] = {
    { "/proc/self/fd", "fd" }, { "/proc/self/fd/0", "stdin" }, { "/proc/self/fd/1", "stdout" },
    { "/proc/self/fd/2", "stderr" }, { "pts/ptmx", "ptmx" },
  };
  for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
    {
      if (strcmp (links[i][1], "ptmx") == 0)
        unlinkat (real, "ptmx", 0);
      if (symlinkat (links[i][0], real, links[i][1]) < 0 && errno != EEXIST)
        return cr_error_errno (err, "symlink /dev/%s", links[i][1]);
    }
  if (access ("/proc/kcore", F_OK) == 0)
    symlinkat ("/proc/kcore", real, "core");
  return 0;
}

int
cr_rootfs_prepare (struct cr_rootfs_ctx *ctx, cr_error_t *err)
{
  const struct oci_config *c = ctx->config;
  unsigned long prop = MS_SLAVE | MS_REC;
  if (c->linux_ && c->linux_->rootfs_propagation)
    {
      long p = cr_propagation_flags (c->linux_->rootfs_propagation, err);
      if (p < 0)
        return -1;
      prop = (unsigned long) p;
    }
  if (mount (NULL, "/", NULL, prop, NULL) < 0)
    return cr_error_errno (err, "set propagation of /");
  /* pivot_root needs the new root to be a mount whose parent is not shared. */
  if (mount (ctx->rootfs, ctx->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
    return cr_error_errno (err, "bind rootfs `%s`", ctx->rootfs);
  if (mount (NULL, ctx->rootfs, NULL, MS_PRIVATE, NULL) < 0)
    return cr_error_errno (err, "make rootfs private");
  cleanup_close int rootfd = open (ctx->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0)
    return cr_error_errno (err, "open rootfs `%s`", ctx->rootfs);
  for (size_t i = 0; i < c->mounts_len; i++)
    if (do_one_mount (ctx, rootfd, &c->mounts[i], err) < 0)
      return -1;
  if (dev_is_mounted_tmpfs (c) && setup_dev (ctx, rootfd, err) < 0)
    return -1;
  return 0;
}

int
cr_rootfs_pivot (const char *rootfs, bool no_pivot, cr_error_t *err)
{
  if (no_pivot)
    {
      if (chdir (rootfs) < 0)
        return cr_error_errno (err, "chdir `%s`", rootfs);
      if (mount (rootfs, "/", NULL, MS_MOVE, NULL) < 0)
        return cr_error_errno (err, "move rootfs to /");
      if (chroot (".") < 0)
        return cr_error_errno (err, "chroot");
      if (chdir ("/") < 0)
        return cr_error_errno (err, "chdir /");
      return 0;
    }
  cleanup_close int oldroot = open ("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  cleanup_close int newroot = open (rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (oldroot < 0 || newroot < 0)
    return cr_error_errno (err, "open roots for pivot_root");
  if (fchdir (newroot) < 0)
    return cr_error_errno (err, "chdir to rootfs");
  if (syscall (SYS_pivot_root, ".", ".") < 0)
    return cr_error_errno (err, "pivot_root");
  /* The old root is now stacked under "."; detach it without propagating. */
  if (fchdir (oldroot) < 0)
    return cr_error_errno (err, "chdir to old root");
  if (mount (NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
    return cr_error_errno (err, "make old root slave");
  if (umount2 (".", MNT_DETACH) < 0)
    return cr_error_errno (err, "unmount old root");
  if (chdir ("/") < 0)
    return cr_error_errno (err, "chdir /");
  return 0;
}

/* /dev/null, checked to really be the null device before it is bound over
 * anything (a container-made symlink there must not redirect the mask,
 * CVE-2025-31133). */
static int
open_dev_null (cr_error_t *err)
{
  int fd = open ("/dev/null", O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == ELOOP)
    return cr_error (err, 0, "/dev/null inside the container is a symlink, not the null device: refusing to mask with it");
  if (fd < 0)
    return cr_error_errno (err, "open /dev/null for masking");
  struct stat st;
  if (fstat (fd, &st) < 0 || !S_ISCHR (st.st_mode) || major (st.st_rdev) != 1 || minor (st.st_rdev) != 3)
    {
      close (fd);
      return cr_error (err, 0, "/dev/null inside the container is not the null device: refusing to mask with it");
    }
  return fd;
}

static int
mask_path (const char *path, int *nullfd, cr_error_t *err)
{
  cleanup_close int fd = sys_openat2 (AT_FDCWD, path, O_PATH | O_NOFOLLOW | O_CLOEXEC, RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
  if (fd < 0)
    {
      if (errno == ENOENT || errno == ELOOP)
        return 0; /* nothing to mask (a symlink is not followed: masking it would mask its target) */
      return cr_error_errno (err, "open masked path `%s`", path);
    }
  struct stat st;
  if (fstat (fd, &st) < 0)
    return cr_error_errno (err, "stat masked path `%s`", path);
  cleanup_free char *tp = fd_path (fd);
  if (S_ISDIR (st.st_mode))
    {
      if (mount ("tmpfs", tp, "tmpfs", MS_RDONLY, NULL) < 0)
        return cr_error_errno (err, "mask directory `%s`", path);
      return 0;
    }
  if (*nullfd < 0 && (*nullfd = open_dev_null (err)) < 0)
    return -1;
  cleanup_free char *np = fd_path (*nullfd);
  if (mount (np, tp, NULL, MS_BIND, NULL) < 0)
    return cr_error_errno (err, "mask file `%s`", path);
  return 0;
}

static int
readonly_path (const char *path, cr_error_t *err)
{
  cleanup_close int fd = sys_openat2 (AT_FDCWD, path, O_PATH | O_NOFOLLOW | O_CLOEXEC, RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
  if (fd < 0)
    {
      if (errno == ENOENT)
        return 0;
      return cr_error_errno (err, "open readonly path `%s`", path);
    }
  cleanup_free char *tp = fd_path (fd);
  if (mount (tp, tp, NULL, MS_BIND | MS_REC, NULL) < 0)
    return cr_error_errno (err, "bind readonly path `%s`", path);
  cleanup_close int fd2 = sys_openat2 (AT_FDCWD, path, O_PATH | O_NOFOLLOW | O_CLOEXEC, RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
  if (fd2 < 0)
    return cr_error_errno (err, "reopen readonly path `%s`", path);
  cleanup_free char *tp2 = fd_path (fd2);
  unsigned long keep = locked_flags (tp2) & (MS_NOSUID | MS_NODEV | MS_NOEXEC);
  if (mount (NULL, tp2, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC | keep, NULL) < 0)
    return cr_error_errno (err, "make `%s` read-only", path);
  return 0;
}

int
cr_rootfs_finalize (struct cr_rootfs_ctx *ctx, cr_error_t *err)
{
  const struct oci_config *c = ctx->config;
  const struct oci_linux *l = c->linux_;
  cleanup_close int nullfd = -1;
  for (size_t i = 0; l && i < l->masked_paths_len; i++)
    if (mask_path (l->masked_paths[i], &nullfd, err) < 0)
      return -1;
  for (size_t i = 0; l && i < l->readonly_paths_len; i++)
    if (readonly_path (l->readonly_paths[i], err) < 0)
      return -1;
  if (l && l->rootfs_propagation)
    {
      long p = cr_propagation_flags (l->rootfs_propagation, err);
      if (p < 0)
        return -1;
      if (mount (NULL, "/", NULL, (unsigned long) p, NULL) < 0)
        return cr_error_errno (err, "set rootfs propagation");
    }
  if (c->root_readonly)
    {
      unsigned long keep = locked_flags ("/") & (MS_NOSUID | MS_NODEV | MS_NOEXEC);
      if (mount (NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | keep, NULL) < 0)
        return cr_error_errno (err, "make rootfs read-only");
    }
  return 0;
}

int
cr_private_procfs (cr_error_t *err)
{
  int fsfd = (int) syscall (SYS_fsopen, "proc", FSOPEN_CLOEXEC);
  if (fsfd >= 0)
    {
      int mfd = -1;
      /* No "subset=pid": sysctl writes need /proc/sys. */
      if (syscall (SYS_fsconfig, fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0)
        mfd = (int) syscall (SYS_fsmount, fsfd, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
      close (fsfd);
      if (mfd >= 0)
        return mfd;
    }
  int fd = open ("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return cr_error_errno (err, "open procfs");
  return fd;
}

int
cr_rootfs_setup_console (const char *slave_path, cr_error_t *err)
{
  /* /dev/console must be a plain file we create; never follow a container symlink (CVE-2025-52565). */
  unlink ("/dev/console");
  int fd = sys_openat2 (AT_FDCWD, "/dev/console", O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC,
                        RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
  if (fd < 0)
    return cr_error_errno (err, "create /dev/console");
  cleanup_free char *tp = fd_path (fd);
  int r = mount (slave_path, tp, NULL, MS_BIND, NULL);
  close (fd);
  if (r < 0)
    return cr_error_errno (err, "bind terminal over /dev/console");
  return 0;
}

/* ---- idmapped mounts, made on the host side ------------------------------ */

/* A user namespace fd with the given maps: a child unshares, we write its maps. */
static int
idmap_userns (const struct oci_mount *m, cr_error_t *err)
{
  int pfd[2];
  if (pipe2 (pfd, O_CLOEXEC) < 0)
    return cr_error_errno (err, "pipe");
  pid_t pid = fork ();
  if (pid < 0)
    {
      close (pfd[0]);
      close (pfd[1]);
      return cr_error_errno (err, "fork");
    }
  if (pid == 0)
    {
      char c;
      close (pfd[1]);
      if (unshare (CLONE_NEWUSER) < 0)
        _exit (1);
      /* Parked until the parent has what it needs (EOF). */
      while (read (pfd[0], &c, 1) > 0)
        ;
      _exit (0);
    }
  close (pfd[0]);
  int ret = -1;
  /* wait until the child is in its new namespace */
  char ns[64];
  snprintf (ns, sizeof ns, "/proc/%d/ns/user", pid);
  unsigned long own = 0;
  {
    struct stat st;
    if (stat ("/proc/self/ns/user", &st) == 0)
      own = st.st_ino;
  }
  for (int i = 0; i < 2000; i++)
    {
      struct stat st;
      if (stat (ns, &st) == 0 && st.st_ino != own)
        break;
      usleep (500);
    }
  for (int which = 0; which < 2; which++)
    {
      const struct oci_id_mapping *map = which ? m->gid_mappings : m->uid_mappings;
      size_t n = which ? m->gid_mappings_len : m->uid_mappings_len;
      char buf[4096];
      size_t used = 0;
      for (size_t i = 0; i < n && used < sizeof buf - 64; i++)
        used += (size_t) snprintf (buf + used, sizeof buf - used, "%u %u %u\n", map[i].container_id, map[i].host_id,
                                   map[i].size);
      char path[64];
      snprintf (path, sizeof path, "/proc/%d/%s", pid, which ? "gid_map" : "uid_map");
      if (write_file_at (AT_FDCWD, path, buf, used, err) < 0)
        goto out;
    }
  ret = open (ns, O_RDONLY | O_CLOEXEC);
  if (ret < 0)
    cr_error_errno (err, "open `%s`", ns);
out:
  close (pfd[1]);
  waitpid (pid, NULL, 0);
  return ret;
}

/* MS_* per-mount flags as fsmount/mount_setattr attributes. */
static unsigned int
idmap_mount_attrs (unsigned long ms)
{
  unsigned int a = 0;
  if (ms & MS_RDONLY)
    a |= MOUNT_ATTR_RDONLY;
  if (ms & MS_NOSUID)
    a |= MOUNT_ATTR_NOSUID;
  if (ms & MS_NODEV)
    a |= MOUNT_ATTR_NODEV;
  if (ms & MS_NOEXEC)
    a |= MOUNT_ATTR_NOEXEC;
  if (ms & MS_NOATIME)
    a |= MOUNT_ATTR_NOATIME;
  else if (ms & MS_STRICTATIME)
    a |= MOUNT_ATTR_STRICTATIME;
  if (ms & MS_NODIRATIME)
    a |= MOUNT_ATTR_NODIRATIME;
  return a;
}

/* A new, detached filesystem mount (runtime-spec 1.2 allows uid/gidMappings on
 * any mount type): fsopen + fsconfig of the data options + fsmount. Whether it
 * can be idmapped is the filesystem's call (tmpfs since Linux 6.3). */
static int
idmap_new_fs (const struct oci_mount *m, const char *type, const struct cr_mount_opts *o, cr_error_t *err)
{
  cleanup_close int fsfd = (int) syscall (SYS_fsopen, type, FSOPEN_CLOEXEC);
  if (fsfd < 0)
    return cr_error_errno (err, "fsopen `%s` for idmapped mount `%s`", type, m->destination);
  const char *src = m->source && *m->source ? m->source : type;
  if (syscall (SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, "source", src, 0) < 0)
    return cr_error_errno (err, "idmapped mount `%s`: source `%s`", m->destination, src);
  if (o->data && *o->data)
    {
      cleanup_free char *copy = xstrdup (o->data);
      char *save = NULL;
      for (char *kv = strtok_r (copy, ",", &save); kv; kv = strtok_r (NULL, ",", &save))
        {
          char *eq = strchr (kv, '=');
          if (eq)
            *eq = '\0';
          long r = eq ? syscall (SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, kv, eq + 1, 0)
                      : syscall (SYS_fsconfig, fsfd, FSCONFIG_SET_FLAG, kv, NULL, 0);
          if (r < 0)
            return cr_error_errno (err, "idmapped mount `%s`: option `%s%s%s` of %s", m->destination, kv,
                                   eq ? "=" : "", eq ? eq + 1 : "", type);
        }
    }
  if (syscall (SYS_fsconfig, fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
    return cr_error_errno (err, "idmapped mount `%s`: create %s", m->destination, type);
  int mfd = (int) syscall (SYS_fsmount, fsfd, FSMOUNT_CLOEXEC, idmap_mount_attrs (o->flags));
  if (mfd < 0)
    return cr_error_errno (err, "idmapped mount `%s`: fsmount %s", m->destination, type);
  return mfd;
}

int
cr_rootfs_idmap_prepare (const struct oci_config *c, const char *bundle, int **fds_out, cr_error_t *err)
{
  *fds_out = NULL;
  int *fds = NULL;
  for (size_t i = 0; i < c->mounts_len; i++)
    {
      const struct oci_mount *m = &c->mounts[i];
      struct cr_mount_opts o;
      if (cr_mount_opts_parse (m->options, m->options_len, &o, err) < 0)
        goto fail;
      bool idmap = o.idmap, rec = o.rec_idmap || o.rec_bind;
      const char *type = m->type ? m->type : "";
      bool bind = o.bind || strcmp (type, "bind") == 0;
      if (!idmap)
        {
          cr_mount_opts_release (&o);
          continue;
        }
      if (m->uid_mappings_len == 0 || m->gid_mappings_len == 0)
        {
          cr_mount_opts_release (&o);
          cr_error (err, 0, "idmapped mount `%s` needs uidMappings and gidMappings", m->destination);
          goto fail;
        }
      if (!bind && (*type == '\0' || strcmp (type, "none") == 0))
        {
          cr_mount_opts_release (&o);
          cr_error (err, 0, "idmapped mount `%s` needs a filesystem type or the bind option", m->destination);
          goto fail;
        }
      if (fds == NULL)
        {
          fds = xmalloc0 (sizeof (int) * c->mounts_len);
          for (size_t k = 0; k < c->mounts_len; k++)
            fds[k] = -1;
        }
      cleanup_free char *src = NULL;
      int tree;
      if (bind)
        {
          src = m->source && m->source[0] != '/' ? xasprintf ("%s/%s", bundle, m->source)
                                                 : xstrdup (m->source ? m->source : "");
          tree = (int) syscall (SYS_open_tree, AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (rec ? AT_RECURSIVE : 0));
          if (tree < 0)
            cr_error_errno (err, "open_tree `%s` for idmapped mount `%s`", src, m->destination);
        }
      else
        tree = idmap_new_fs (m, type, &o, err);
      cr_mount_opts_release (&o);
      if (tree < 0)
        goto fail;
      fds[i] = tree;
      cleanup_close int userns = idmap_userns (m, err);
      if (userns < 0)
        goto fail;
      struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (unsigned long long) userns };
      if (syscall (SYS_mount_setattr, tree, "", AT_EMPTY_PATH | (rec ? AT_RECURSIVE : 0), &attr, sizeof attr) < 0)
        {
          if (bind)
            cr_error_errno (err, "idmap mount `%s` (the filesystem of `%s` may not support idmapped mounts)",
                            m->destination, src);
          else
            cr_error_errno (err, "idmap mount `%s`: this kernel cannot idmap a %s filesystem (tmpfs needs Linux 6.3)",
                            m->destination, type);
          goto fail;
        }
    }
  *fds_out = fds;
  return 0;
fail:
  cr_rootfs_idmap_free (fds, c->mounts_len);
  return -1;
}

void
cr_rootfs_idmap_free (int *fds, size_t n)
{
  for (size_t i = 0; fds && i < n; i++)
    if (fds[i] >= 0)
      close (fds[i]);
  free (fds);
}
