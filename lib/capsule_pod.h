/* Kubernetes pods as the capsule unit (SPEC §6 "Kubernetes").
 *
 * containerd (and CRI-O) mark the pod's sandbox container and its app
 * containers with annotations.  The sandbox (pause) capsule owns the
 * pod-level netns pin, rules, proxy, concurrency slot, session and timeout;
 * at its create we record the pod in <state>/pod.json.  A container joining
 * that pod (found by sandbox-id under the same --root, or by netns identity
 * through the netcontain registry) is confined like the pod even without
 * capsule annotations of its own, shares the pod's session, takes no
 * concurrency slot, and gets only what is left of the pod's time: once it is
 * up, new app containers are refused and the sandbox stays (kubelet would
 * recreate a dead sandbox in a loop). */
#ifndef CAPSULE_POD_H
#define CAPSULE_POD_H

#include <stdbool.h>

#include "../oci-spec/config.h"
#include "admission.h"
#include "error.h"

#define CAPSULE_POD_ANN_TYPE "io.kubernetes.cri.container-type"
#define CAPSULE_POD_ANN_SANDBOX "io.kubernetes.cri.sandbox-id"
#define CAPSULE_POD_ANN_TYPE_CRIO "io.kubernetes.cri-o.ContainerType"
#define CAPSULE_POD_ANN_SANDBOX_CRIO "io.kubernetes.cri-o.SandboxID"

enum capsule_pod_role
{
  CAPSULE_POD_NONE,      /* not a CRI container */
  CAPSULE_POD_SANDBOX,   /* the pod's sandbox (pause) container */
  CAPSULE_POD_CONTAINER, /* an app / init / ephemeral container of a pod */
};

/* The role the CRI annotations give; *sandbox_id (may be NULL) gets the
 * sandbox-id annotation, or NULL. */
enum capsule_pod_role capsule_pod_role (const struct oci_config *cfg, const char **sandbox_id);

/* Before admission of container `id`: if it belongs to a capsule pod, rewrite
 * its capsule/ annotations to the pod's (see above) and return 1; 0 when it
 * belongs to none.  Refuses (and audits in the pod's log) a container whose
 * pod has run out of time, or whose sandbox-id names a capsule pod whose
 * netns is not the container's. */
int capsule_pod_join (struct oci_config *cfg, const char *id, const char *root, cr_error_t *err);

/* After a sandbox was admitted: write <state>/pod.json (dirfd = state dir). */
int capsule_pod_record (const struct oci_config *cfg, const struct capsule_effective *eff, int dirfd,
                        cr_error_t *err);

/* Is the capsule at state_dir a pod's sandbox?  Its timeout and kill switch
 * act on the app containers (each has its own monitor), never on itself. */
bool capsule_pod_is_sandbox (const char *state_dir);

#endif
