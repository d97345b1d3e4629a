/* capsule-runc spec [--bundle DIR] [--rootless]: write a default config.json (runc's defaults). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "lib/log.h"
#include "lib/util.h"

static const char default_spec[] =
  "{\n"
  "\t\"ociVersion\": \"1.2.0\",\n"
  "\t\"process\": {\n"
  "\t\t\"terminal\": true,\n"
  "\t\t\"user\": {\n\t\t\t\"uid\": 0,\n\t\t\t\"gid\": 0\n\t\t},\n"
  "\t\t\"args\": [\n\t\t\t\"sh\"\n\t\t],\n"
  "\t\t\"env\": [\n\t\t\t\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\",\n\t\t\t\"TERM=xterm\"\n\t\t],\n"
  "\t\t\"cwd\": \"/\",\n"
  "\t\t\"capabilities\": {\n"
  "\t\t\t\"bounding\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"],\n"
  "\t\t\t\"effective\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"],\n"
  "\t\t\t\"permitted\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"],\n"
  "\t\t\t\"ambient\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"]\n"
  "\t\t},\n"
  "\t\t\"rlimits\": [\n\t\t\t{\n\t\t\t\t\"type\": \"RLIMIT_NOFILE\",\n\t\t\t\t\"hard\": 1024,\n\t\t\t\t\"soft\": 1024\n\t\t\t}\n\t\t],\n"
  "\t\t\"noNewPrivileges\": true\n"
  "\t},\n"
  "\t\"root\": {\n\t\t\"path\": \"rootfs\",\n\t\t\"readonly\": true\n\t},\n"
  "\t\"hostname\": \"capsule\",\n"
  "\t\"mounts\": [\n"
  "\t\t{\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"},\n"
  "\t\t{\"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\", \"options\": [\"nosuid\", \"strictatime\", \"mode=755\", \"size=65536k\"]},\n"
  "\t\t{\"destination\": \"/dev/pts\", \"type\": \"devpts\", \"source\": \"devpts\", \"options\": [\"nosuid\", \"noexec\", \"newinstance\", \"ptmxmode=0666\", \"mode=0620\", \"gid=5\"]},\n"
  "\t\t{\"destination\": \"/dev/shm\", \"type\": \"tmpfs\", \"source\": \"shm\", \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"mode=1777\", \"size=65536k\"]},\n"
  "\t\t{\"destination\": \"/dev/mqueue\", \"type\": \"mqueue\", \"source\": \"mqueue\", \"options\": [\"nosuid\", \"noexec\", \"nodev\"]},\n"
  "\t\t{\"destination\": \"/sys\", \"type\": \"sysfs\", \"source\": \"sysfs\", \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"ro\"]},\n"
  "\t\t{\"destination\": \"/sys/fs/cgroup\", \"type\": \"cgroup\", \"source\": \"cgroup\", \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"relatime\", \"ro\"]}\n"
  "\t],\n"
  "\t\"linux\": {\n"
  "\t\t\"resources\": {\n\t\t\t\"devices\": [\n\t\t\t\t{\n\t\t\t\t\t\"allow\": false,\n\t\t\t\t\t\"access\": \"rwm\"\n\t\t\t\t}\n\t\t\t]\n\t\t},\n"
  "\t\t\"namespaces\": [\n"
  "\t\t\t{\"type\": \"pid\"},\n\t\t\t{\"type\": \"network\"},\n\t\t\t{\"type\": \"ipc\"},\n"
  "\t\t\t{\"type\": \"uts\"},\n\t\t\t{\"type\": \"mount\"}\n"
  "\t\t],\n"
  "\t\t\"maskedPaths\": [\n"
  "\t\t\t\"/proc/acpi\",\n\t\t\t\"/proc/asound\",\n\t\t\t\"/proc/kcore\",\n\t\t\t\"/proc/keys\",\n"
  "\t\t\t\"/proc/latency_stats\",\n\t\t\t\"/proc/timer_list\",\n\t\t\t\"/proc/timer_stats\",\n"
  "\t\t\t\"/proc/sched_debug\",\n\t\t\t\"/sys/firmware\",\n\t\t\t\"/proc/scsi\"\n"
  "\t\t],\n"
  "\t\t\"readonlyPaths\": [\n"
  "\t\t\t\"/proc/bus\",\n\t\t\t\"/proc/fs\",\n\t\t\t\"/proc/irq\",\n\t\t\t\"/proc/sys\",\n\t\t\t\"/proc/sysrq-trigger\"\n"
  "\t\t]\n"
  "\t}\n"
  "}\n";

CR_VERB (spec)
{
  (void) g;
  static const struct cr_opt opts[] = { { "bundle", 'b', true, 1 }, { "rootless", 0, false, 2 }, { NULL, 0, false, 0 } };
  int optind = 1, id;
  const char *arg, *bundle = ".";
  while ((id = cr_getopt (argc, argv, &optind, opts, &arg)) > 0)
    if (id == 1)
      bundle = arg;
  if (id < 0)
    return 1;
  cleanup_free char *path = xasprintf ("%s/config.json", bundle);
  int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0)
    {
      if (errno == EEXIST)
        cr_log_error ("File %s exists. Remove it first", path);
      else
        cr_log_error ("create `%s`: %s", path, strerror (errno));
      return 1;
    }
  cr_error_t err = NULL;
  int r = write_all (fd, default_spec, sizeof default_spec - 1, &err);
  close (fd);
  if (r < 0)
    return cr_error_report (&err);
  return 0;
}
