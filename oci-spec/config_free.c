/* Freeing the structures of config.h (everything is owned by its parent). */
#include "config.h"
#include "config_internal.h"
#include "json_get.h"

#include <stdlib.h>

static void
oci_kv_free (struct oci_kv *kv, size_t n)
{
  if (kv == NULL)
    return;
  for (size_t i = 0; i < n; i++)
    {
      free (kv[i].key);
      free (kv[i].value);
    }
  free (kv);
}

static void
oci_caps_free (struct oci_capabilities *c)
{
  if (c == NULL)
    return;
  ocij_strv_free (c->bounding, c->bounding_len);
  ocij_strv_free (c->effective, c->effective_len);
  ocij_strv_free (c->inheritable, c->inheritable_len);
  ocij_strv_free (c->permitted, c->permitted_len);
  ocij_strv_free (c->ambient, c->ambient_len);
  free (c);
}

void
oci_process_free (struct oci_process *p)
{
  if (p == NULL)
    return;
  free (p->cwd);
  ocij_strv_free (p->env, p->env_len);
  ocij_strv_free (p->args, p->args_len);
  for (size_t i = 0; p->rlimits && i < p->rlimits_len; i++)
    free (p->rlimits[i].type);
  free (p->rlimits);
  free (p->apparmor_profile);
  oci_caps_free (p->capabilities);
  if (p->scheduler)
    {
      free (p->scheduler->policy);
      ocij_strv_free (p->scheduler->flags, p->scheduler->flags_len);
      free (p->scheduler);
    }
  free (p->selinux_label);
  if (p->io_priority)
    {
      free (p->io_priority->klass);
      free (p->io_priority);
    }
  free (p->exec_cpu_affinity_initial);
  free (p->exec_cpu_affinity_final);
  free (p->user.additional_gids);
  free (p->user.username);
  free (p);
}

void
oci_resources_free (struct oci_resources *r)
{
  if (r == NULL)
    return;
  for (size_t i = 0; r->devices && i < r->devices_len; i++)
    {
      free (r->devices[i].type);
      free (r->devices[i].access);
    }
  free (r->devices);
  free (r->memory);
  if (r->cpu)
    {
      free (r->cpu->cpus);
      free (r->cpu->mems);
      free (r->cpu);
    }
  if (r->block_io)
    {
      free (r->block_io->weight_device);
      free (r->block_io->throttle_read_bps);
      free (r->block_io->throttle_write_bps);
      free (r->block_io->throttle_read_iops);
      free (r->block_io->throttle_write_iops);
      free (r->block_io);
    }
  for (size_t i = 0; r->hugepage_limits && i < r->hugepage_limits_len; i++)
    free (r->hugepage_limits[i].page_size);
  free (r->hugepage_limits);
  for (size_t i = 0; r->net_priorities && i < r->net_priorities_len; i++)
    free (r->net_priorities[i].name);
  free (r->net_priorities);
  for (size_t i = 0; r->rdma && i < r->rdma_len; i++)
    free (r->rdma[i].name);
  free (r->rdma);
  oci_kv_free (r->unified, r->unified_len);
  free (r);
}

void
oci_seccomp_free (struct oci_seccomp *s)
{
  if (s == NULL)
    return;
  free (s->default_action);
  ocij_strv_free (s->architectures, s->architectures_len);
  ocij_strv_free (s->flags, s->flags_len);
  free (s->listener_path);
  free (s->listener_metadata);
  for (size_t i = 0; s->syscalls && i < s->syscalls_len; i++)
    {
      ocij_strv_free (s->syscalls[i].names, s->syscalls[i].names_len);
      free (s->syscalls[i].action);
      free (s->syscalls[i].args);
    }
  free (s->syscalls);
  free (s);
}

static void
oci_linux_free (struct oci_linux *l)
{
  if (l == NULL)
    return;
  free (l->uid_mappings);
  free (l->gid_mappings);
  oci_kv_free (l->sysctl, l->sysctl_len);
  oci_resources_free (l->resources);
  free (l->cgroups_path);
  for (size_t i = 0; l->namespaces && i < l->namespaces_len; i++)
    {
      free (l->namespaces[i].type);
      free (l->namespaces[i].path);
    }
  free (l->namespaces);
  for (size_t i = 0; l->devices && i < l->devices_len; i++)
    {
      free (l->devices[i].type);
      free (l->devices[i].path);
    }
  free (l->devices);
  oci_seccomp_free (l->seccomp);
  free (l->rootfs_propagation);
  ocij_strv_free (l->masked_paths, l->masked_paths_len);
  ocij_strv_free (l->readonly_paths, l->readonly_paths_len);
  free (l->mount_label);
  if (l->intel_rdt)
    {
      free (l->intel_rdt->clos_id);
      free (l->intel_rdt->l3_cache_schema);
      free (l->intel_rdt->mem_bw_schema);
      free (l->intel_rdt);
    }
  if (l->personality)
    {
      free (l->personality->domain);
      ocij_strv_free (l->personality->flags, l->personality->flags_len);
      free (l->personality);
    }
  free (l);
}

void
oci_hooks_free (struct oci_hook *h, size_t n)
{
  if (h == NULL)
    return;
  for (size_t i = 0; i < n; i++)
    {
      free (h[i].path);
      ocij_strv_free (h[i].args, h[i].args_len);
      ocij_strv_free (h[i].env, h[i].env_len);
    }
  free (h);
}

void
oci_config_free (struct oci_config *c)
{
  if (c == NULL)
    return;
  free (c->oci_version);
  free (c->root_path);
  for (size_t i = 0; c->mounts && i < c->mounts_len; i++)
    {
      struct oci_mount *m = &c->mounts[i];
      free (m->destination);
      free (m->type);
      free (m->source);
      ocij_strv_free (m->options, m->options_len);
      free (m->uid_mappings);
      free (m->gid_mappings);
    }
  free (c->mounts);
  oci_process_free (c->process);
  free (c->hostname);
  free (c->domainname);
  for (int k = 0; k < OCI_HOOK__COUNT; k++)
    oci_hooks_free (c->hooks.hooks[k], c->hooks.len[k]);
  oci_kv_free (c->annotations, c->annotations_len);
  oci_linux_free (c->linux_);
  free (c);
}
