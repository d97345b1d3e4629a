/* The container process' own attributes, set in container init (and in
 * exec'd processes) just before execve: rlimits, user and groups, cwd,
 * oom_score_adj, scheduler, I/O priority, personality, executable lookup. */
#ifndef CAPSULE_PROCESS_H
#define CAPSULE_PROCESS_H

#include "../oci-spec/config.h"
#include "error.h"

int cr_process_rlimits (const struct oci_process *p, cr_error_t *err);
/* setgroups + setresgid + setresuid, keeping capabilities for cr_caps_apply. */
int cr_process_user (const struct oci_process *p, cr_error_t *err);
/* chdir to process.cwd and make sure it is inside the container (CVE-2024-21626). */
int cr_process_cwd (const struct oci_process *p, cr_error_t *err);
/* Write oom_score_adj through a private procfs fd. */
int cr_process_oom_score_adj (int procfd, const struct oci_process *p, cr_error_t *err);
int cr_process_scheduler (const struct oci_process *p, cr_error_t *err);
int cr_process_io_priority (const struct oci_process *p, cr_error_t *err);
int cr_personality (const struct oci_linux *l, cr_error_t *err);
/* What the host must offer for the config: SELinux for selinuxLabel, resctrl for intelRdt (runc's errors). */
int cr_process_check_host (const struct oci_config *c, cr_error_t *err);
/* AppArmor profile / SELinux label for the next execve; an AppArmor profile is ignored without AppArmor. */
int cr_process_lsm (int procfd, const struct oci_process *p, cr_error_t *err);
/* Resolve args[0] with the PATH of process.env (default PATH like runc). */
char *cr_process_find_exec (const struct oci_process *p, cr_error_t *err);
/* Mark every fd >= 3 + preserve_fds close-on-exec. */
int cr_process_close_fds (int preserve_fds, cr_error_t *err);
/* sysctl keys -> /proc/sys/... through procfd. */
int cr_process_sysctl (int procfd, const struct oci_linux *l, cr_error_t *err);
/* Parse RLIMIT_* name. -1 if unknown. */
int cr_rlimit_from_name (const char *name);

#endif
