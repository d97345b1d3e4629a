/* Shared between the oci-spec/config*.c files only. */
#ifndef CAPSULE_OCI_CONFIG_INTERNAL_H
#define CAPSULE_OCI_CONFIG_INTERNAL_H

#include "config.h"

void oci_seccomp_free (struct oci_seccomp *s);
void oci_hooks_free (struct oci_hook *h, size_t n);

#endif
