#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <sched.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util.h"

static const struct
{
  const char *name;
  int res;
} rlimit_table[] = {
  { "RLIMIT_AS", RLIMIT_AS },           { "RLIMIT_CORE", RLIMIT_CORE },         { "RLIMIT_CPU", RLIMIT_CPU },
  { "RLIMIT_DATA", RLIMIT_DATA },       { "RLIMIT_FSIZE", RLIMIT_FSIZE },       { "RLIMIT_LOCKS", RLIMIT_LOCKS },
  { "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK }, { "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE }, { "RLIMIT_NICE", RLIMIT_NICE },
  { "RLIMIT_NOFILE", RLIMIT_NOFILE },   { "RLIMIT_NPROC", RLIMIT_NPROC },       { "RLIMIT_RSS", RLIMIT_RSS },
  { "RLIMIT_RTPRIO", RLIMIT_RTPRIO },   { "RLIMIT_RTTIME", RLIMIT_RTTIME },     { "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
  { "RLIMIT_STACK", RLIMIT_STACK },
};

int
cr_rlimit_from_name (const char *name)
{
  for (size_t i = 0; i < sizeof rlimit_table / sizeof rlimit_table[0]; i++)
    if (strcmp (rlimit_table[i].name, name) == 0)
      return rlimit_table[i].res;
  return -1;
}

int
cr_process_rlimits (const struct oci_process *p, cr_error_t *err)
{
  for (size_t i = 0; i < p->rlimits_len; i++)
    {
      int r = cr_rlimit_from_name (p->rlimits[i].type);
      if (r < 0)
        return cr_error (err, 0, "process.rlimits[%zu].type: unknown rlimit \"%s\"", i, p->rlimits[i].type);
      struct rlimit rl = { .rlim_cur = p->rlimits[i].soft, .rlim_max = p->rlimits[i].hard };
      if (setrlimit (r, &rl) < 0)
        return cr_error_errno (err, "setrlimit %s (soft %llu, hard %llu)", p->rlimits[i].type,
                               (unsigned long long) rl.rlim_cur, (unsigned long long) rl.rlim_max);
    }
  return 0;
}

int
cr_process_user (const struct oci_process *p, cr_error_t *err)
{
  const struct oci_user *u = &p->user;
  /* Keep the permitted set across setuid: cr_caps_apply decides what stays. */
  if (prctl (PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
    return cr_error_errno (err, "prctl(PR_SET_KEEPCAPS)");
  gid_t *groups = NULL;
  if (u->additional_gids_len)
    {
      groups = xmalloc0 (sizeof (gid_t) * u->additional_gids_len);
      for (size_t i = 0; i < u->additional_gids_len; i++)
        groups[i] = u->additional_gids[i];
    }
  /* setgroups is denied in a user namespace with setgroups=deny: only fail when groups were asked. */
  if (setgroups (u->additional_gids_len, groups) < 0 && (u->additional_gids_len || errno != EPERM))
    {
      int saved = errno;
      free (groups);
      return cr_error (err, saved, "setgroups");
    }
  free (groups);
  if (setresgid (u->gid, u->gid, u->gid) < 0)
    return cr_error_errno (err, "setresgid(%u)", u->gid);
  if (setresuid (u->uid, u->uid, u->uid) < 0)
    return cr_error_errno (err, "setresuid(%u)", u->uid);
  if (u->has_umask)
    umask ((mode_t) u->umask);
  else
    umask (0022);
  return 0;
}

int
cr_process_cwd (const struct oci_process *p, cr_error_t *err)
{
  const char *cwd = p->cwd && *p->cwd ? p->cwd : "/";
  if (chdir (cwd) < 0)
    return cr_error_errno (err, "chdir to cwd (\"%s\") set in config.json", cwd);
  /* A cwd reached through a leaked host fd shows as "(unreachable)/..." (CVE-2024-21626). */
  char buf[4096];
  if (getcwd (buf, sizeof buf) == NULL || buf[0] != '/')
    return cr_error (err, EPERM, "current working directory is outside of the container");
  return 0;
}

int
cr_process_oom_score_adj (int procfd, const struct oci_process *p, cr_error_t *err)
{
  if (!p->has_oom_score_adj)
    return 0;
  char buf[32];
  int n = snprintf (buf, sizeof buf, "%d", p->oom_score_adj);
  cleanup_close int fd = openat (procfd, "self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return cr_error_errno (err, "open /proc/self/oom_score_adj");
  if (write (fd, buf, (size_t) n) < 0)
    return cr_error_errno (err, "write oom_score_adj %d", p->oom_score_adj);
  return 0;
}

int
cr_process_scheduler (const struct oci_process *p, cr_error_t *err)
{
  if (p->scheduler == NULL)
    return 0;
  static const struct
  {
    const char *n;
    int v;
  } pol[] = { { "SCHED_OTHER", SCHED_OTHER }, { "SCHED_FIFO", SCHED_FIFO }, { "SCHED_RR", SCHED_RR },
              { "SCHED_BATCH", SCHED_BATCH }, { "SCHED_IDLE", SCHED_IDLE }, { "SCHED_DEADLINE", 6 } };
  int policy = -1;
  for (size_t i = 0; i < sizeof pol / sizeof pol[0]; i++)
    if (strcmp (pol[i].n, p->scheduler->policy) == 0)
      policy = pol[i].v;
  if (policy < 0)
    return cr_error (err, 0, "process.scheduler.policy: unknown policy \"%s\"", p->scheduler->policy);
  struct
  {
    uint32_t size, policy;
    uint64_t flags;
    int32_t nice;
    uint32_t priority;
    uint64_t runtime, deadline, period;
  } attr = { .size = 48, .policy = (uint32_t) policy, .nice = p->scheduler->nice,
             .priority = (uint32_t) p->scheduler->priority, .runtime = p->scheduler->runtime,
             .deadline = p->scheduler->deadline, .period = p->scheduler->period };
  for (size_t i = 0; i < p->scheduler->flags_len; i++)
    {
      const char *f = p->scheduler->flags[i];
      if (strcmp (f, "SCHED_FLAG_RESET_ON_FORK") == 0)
        attr.flags |= 0x01;
      else if (strcmp (f, "SCHED_FLAG_RECLAIM") == 0)
        attr.flags |= 0x02;
      else if (strcmp (f, "SCHED_FLAG_DL_OVERRUN") == 0)
        attr.flags |= 0x04;
      else if (strcmp (f, "SCHED_FLAG_KEEP_POLICY") == 0)
        attr.flags |= 0x08;
      else if (strcmp (f, "SCHED_FLAG_KEEP_PARAMS") == 0)
        attr.flags |= 0x10;
      else if (strcmp (f, "SCHED_FLAG_UTIL_CLAMP_MIN") == 0)
        attr.flags |= 0x20;
      else if (strcmp (f, "SCHED_FLAG_UTIL_CLAMP_MAX") == 0)
        attr.flags |= 0x40;
      else
        return cr_error (err, 0, "process.scheduler.flags: unknown flag \"%s\"", f);
    }
  if (syscall (SYS_sched_setattr, 0, &attr, 0) < 0)
    return cr_error_errno (err, "sched_setattr(%s)", p->scheduler->policy);
  return 0;
}

int
cr_process_io_priority (const struct oci_process *p, cr_error_t *err)
{
  if (p->io_priority == NULL)
    return 0;
  int klass;
  const char *k = p->io_priority->klass ? p->io_priority->klass : "";
  if (strcmp (k, "IOPRIO_CLASS_RT") == 0)
    klass = 1;
  else if (strcmp (k, "IOPRIO_CLASS_BE") == 0)
    klass = 2;
  else if (strcmp (k, "IOPRIO_CLASS_IDLE") == 0)
    klass = 3;
  else
    return cr_error (err, 0, "process.ioPriority.class: unknown class \"%s\"", k);
  if (syscall (SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, (klass << 13) | p->io_priority->priority) < 0)
    return cr_error_errno (err, "ioprio_set(%s, %d)", k, p->io_priority->priority);
  return 0;
}

int
cr_personality (const struct oci_linux *l, cr_error_t *err)
{
  if (l == NULL || l->personality == NULL)
    return 0;
  unsigned long dom;
  const char *d = l->personality->domain ? l->personality->domain : "";
  if (strcmp (d, "LINUX") == 0)
    dom = PER_LINUX;
  else if (strcmp (d, "LINUX32") == 0)
    dom = PER_LINUX32;
  else
    return cr_error (err, 0, "linux.personality.domain: unknown domain \"%s\"", d);
  if (personality (dom) < 0)
    return cr_error_errno (err, "personality(%s)", d);
  return 0;
}

static const char *
env_get (const struct oci_process *p, const char *key)
{
  size_t kl = strlen (key);
  for (size_t i = 0; i < p->env_len; i++)
    if (strncmp (p->env[i], key, kl) == 0 && p->env[i][kl] == '=')
      return p->env[i] + kl + 1;
  return NULL;
}

char *
cr_process_find_exec (const struct oci_process *p, cr_error_t *err)
{
  if (p->args_len == 0 || p->args[0] == NULL || p->args[0][0] == '\0')
    {
      cr_error (err, 0, "args must not be empty");
      return NULL;
    }
  const char *name = p->args[0];
  struct stat st;
  if (strchr (name, '/'))
    {
      if (stat (name, &st) < 0)
        {
          cr_error_errno (err, "exec: \"%s\": stat %s", name, name);
          return NULL;
        }
      if (S_ISDIR (st.st_mode))
        {
          /* runc's wording: podman maps "permission denied" to exit 126 */
          cr_error (err, EACCES, "exec: \"%s\"", name);
          return NULL;
        }
      return xstrdup (name);
    }
  const char *path = env_get (p, "PATH");
  if (path == NULL)
    path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  cleanup_free char *copy = xstrdup (path);
  char *save = NULL;
  for (char *dir = strtok_r (copy, ":", &save); dir; dir = strtok_r (NULL, ":", &save))
    {
      char *cand = xasprintf ("%s/%s", *dir ? dir : ".", name);
      if (stat (cand, &st) == 0 && S_ISREG (st.st_mode) && (st.st_mode & 0111))
        return cand;
      free (cand);
    }
  cr_error (err, 0, "exec: \"%s\": executable file not found in $PATH", name);
  return NULL;
}

int
cr_process_close_fds (int preserve_fds, cr_error_t *err)
{
  unsigned int first = 3 + (unsigned int) (preserve_fds > 0 ? preserve_fds : 0);
  if (syscall (SYS_close_range, first, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
    return 0;
  /* Fallback for kernels without CLOSE_RANGE_CLOEXEC. */
  cleanup_dir DIR *d = opendir ("/proc/self/fd");
  if (d == NULL)
    return cr_error_errno (err, "open /proc/self/fd");
  struct dirent *de;
  while ((de = readdir (d)))
    {
      int fd = atoi (de->d_name);
      if (de->d_name[0] != '.' && fd >= (int) first && fd != dirfd (d))
        fcntl (fd, F_SETFD, FD_CLOEXEC);
    }
  return 0;
}

int
cr_process_sysctl (int procfd, const struct oci_linux *l, cr_error_t *err)
{
  for (size_t i = 0; l && i < l->sysctl_len; i++)
    {
      cleanup_free char *rel = xasprintf ("sys/%s", l->sysctl[i].key);
      for (char *c = rel + 4; *c; c++)
        if (*c == '.')
          *c = '/';
      if (strstr (rel, ".."))
        return cr_error (err, 0, "linux.sysctl: invalid key \"%s\"", l->sysctl[i].key);
      cleanup_close int fd = openat (procfd, rel, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
      if (fd < 0)
        return cr_error_errno (err, "open /proc/%s for sysctl \"%s\"", rel, l->sysctl[i].key);
      const char *v = l->sysctl[i].value ? l->sysctl[i].value : "";
      if (write (fd, v, strlen (v)) < 0)
        return cr_error_errno (err, "write sysctl \"%s\" = \"%s\"", l->sysctl[i].key, v);
    }
  return 0;
}

/* ---- LSM labels and host features the config may ask for ---------------- */

static bool
lsm_apparmor_enabled (void)
{
  char c = 0;
  cleanup_close int fd = open ("/sys/module/apparmor/parameters/enabled", O_RDONLY | O_CLOEXEC);
  /* Only the module parameter: inside the container (after pivot) securityfs is not mounted. */
  return fd >= 0 && read (fd, &c, 1) == 1 && c == 'Y';
}

static bool
lsm_selinux_enabled (void)
{
  /* selinuxfs mounted and answering: what go-selinux checks */
  return access ("/sys/fs/selinux/enforce", F_OK) == 0;
}

int
cr_process_check_host (const struct oci_config *c, cr_error_t *err)
{
  if (c->process && c->process->selinux_label && *c->process->selinux_label && !lsm_selinux_enabled ())
    return cr_error (err, 0, "selinux label is specified in config, but selinux is disabled or not supported");
  if (c->linux_ && c->linux_->intel_rdt && access ("/sys/fs/resctrl/info", F_OK) < 0)
    return cr_error (err, 0, "intelRdt is specified but the host has no resctrl");
  return 0;
}

int
cr_process_lsm (int procfd, const struct oci_process *p, cr_error_t *err)
{
  /* AppArmor: like runc's callers, nothing to do when the host has no AppArmor. */
  if (p->apparmor_profile && *p->apparmor_profile && lsm_apparmor_enabled ())
    {
      cleanup_free char *v = xasprintf ("exec %s", p->apparmor_profile);
      cleanup_close int fd = openat (procfd, "thread-self/attr/apparmor/exec", O_WRONLY | O_CLOEXEC);
      if (fd < 0)
        fd = openat (procfd, "thread-self/attr/exec", O_WRONLY | O_CLOEXEC);
      if (fd < 0 || write (fd, v, strlen (v)) < 0)
        return cr_error_errno (err, "apparmor failed to apply profile `%s`", p->apparmor_profile);
    }
  /* SELinux: the label for the next execve (cr_process_check_host refused it when SELinux is off). */
  if (p->selinux_label && *p->selinux_label && lsm_selinux_enabled ())
    {
      cleanup_close int fd = openat (procfd, "thread-self/attr/exec", O_WRONLY | O_CLOEXEC);
      if (fd < 0 || write (fd, p->selinux_label, strlen (p->selinux_label)) < 0)
        return cr_error_errno (err, "set SELinux exec label `%s`", p->selinux_label);
    }
  return 0;
}
