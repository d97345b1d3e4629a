/* Handing the seccomp notify fd to the agent at linux.seccomp.listenerPath. */
#include "seccomp.h"
#include "util.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <yajl/yajl_gen.h>

/* s as a quoted, escaped JSON string (malloc'd). */
static char *
cr_json_quote (const char *s)
{
  yajl_gen g = yajl_gen_alloc (NULL);
  if (g == NULL)
    abort ();
  yajl_gen_string (g, (const unsigned char *) s, strlen (s));
  const unsigned char *buf;
  size_t len;
  yajl_gen_get_buf (g, &buf, &len);
  char *out = xmalloc0 (len + 1);
  memcpy (out, buf, len);
  yajl_gen_free (g);
  return out;
}

int
cr_seccomp_send_listener (const char *listener_path, int notify_fd, pid_t pid, const char *metadata,
                          const char *state_json, cr_error_t *err)
{
  if (listener_path == NULL || listener_path[0] == '\0')
    return cr_error (err, EINVAL, "seccomp: SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath");
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  if (strlen (listener_path) >= sizeof addr.sun_path)
    return cr_error (err, ENAMETOOLONG, "seccomp listener `%s`", listener_path);
  strcpy (addr.sun_path, listener_path);

  cleanup_free char *meta = cr_json_quote (metadata ? metadata : "");
  cleanup_free char *msg = xasprintf ("{\"ociVersion\":\"1.2.0\",\"fds\":[\"seccompFd\"],\"pid\":%d,\"metadata\":%s,"
                                      "\"state\":%s}", (int) pid, meta,
                                      state_json && state_json[0] ? state_json : "{}");

  cleanup_close int sock = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0)
    return cr_error_errno (err, "seccomp listener: socket");
  if (connect (sock, (struct sockaddr *) &addr, sizeof addr) < 0)
    return cr_error_errno (err, "connect to seccomp listener `%s`", listener_path);

  struct iovec iov = { .iov_base = msg, .iov_len = strlen (msg) };
  union { char buf[CMSG_SPACE (sizeof (int))]; struct cmsghdr align; } ctl;
  memset (&ctl, 0, sizeof ctl);
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf };
  struct cmsghdr *cm = CMSG_FIRSTHDR (&mh);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN (sizeof (int));
  memcpy (CMSG_DATA (cm), &notify_fd, sizeof (int));

  ssize_t n;
  do
    n = sendmsg (sock, &mh, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return cr_error_errno (err, "send the seccomp fd to `%s`", listener_path);
  /* the fd went with the first byte; the rest of a long message follows plainly */
  if ((size_t) n < iov.iov_len && write_all (sock, msg + n, iov.iov_len - (size_t) n, err) < 0)
    return cr_error_wrap (err, "send the seccomp state to `%s`", listener_path);
  return 0;
}
