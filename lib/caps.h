/* Capabilities: OCI names ("CAP_NET_RAW") <-> numbers, and applying the
 * five sets of process.capabilities in the container child. */
#ifndef CAPSULE_CAPS_H
#define CAPSULE_CAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../oci-spec/config.h"
#include "error.h"

/* Capability number for an OCI name.  Returns the number, -2 for a
 * well-formed name this kernel/libcap does not know (callers warn and ignore
 * it like runc 1.1 does), -1 and *err for a malformed name (not CAP_...). */
int cr_cap_from_name (const char *name, cr_error_t *err);
/* "CAP_NET_RAW" for 13; NULL when unknown. */
const char *cr_cap_name (int cap);
/* Highest capability the running kernel supports (/proc/sys/kernel/cap_last_cap). */
int cr_caps_last_cap (void);

/* Bit mask of a name list; unknown names are warned about and skipped. */
int cr_caps_mask (char *const *names, size_t n, uint64_t *mask, cr_error_t *err);

/* Apply the sets, called in the container child after setresuid (with the
 * permitted set kept): drop the bounding set to what is listed, set
 * effective/permitted/inheritable (inheritable empty unless listed,
 * CVE-2022-29162), clear then raise the ambient set.  c == NULL means no
 * capabilities at all, like runc. */
int cr_caps_apply (const struct oci_capabilities *c, cr_error_t *err);

/* Remove the named capabilities from every set of c (capsule mode strips
 * CAP_NET_ADMIN, CAP_NET_RAW, CAP_SYS_ADMIN).  names is NULL-terminated.
 * Returns how many entries were removed. */
size_t cr_caps_remove (struct oci_capabilities *c, const char *const *names);

/* Every capability name up to cr_caps_last_cap(), NULL-terminated, static (for `features`). */
const char *const *cr_caps_known_names (void);

#endif
