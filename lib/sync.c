#include "sync.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "util.h"

struct msg_hdr
{
  int type;
};

int
cr_sync_send (int sock, enum cr_sync_msg type, const char *text, int fd, cr_error_t *err)
{
  char buf[4096];
  struct msg_hdr h = { .type = (int) type };
  size_t tl = text ? strlen (text) : 0;
  if (tl > sizeof buf - sizeof h)
    tl = sizeof buf - sizeof h;
  memcpy (buf, &h, sizeof h);
  if (tl)
    memcpy (buf + sizeof h, text, tl);
  struct iovec iov = { .iov_base = buf, .iov_len = sizeof h + tl };
  union
  {
    char b[CMSG_SPACE (sizeof (int))];
    struct cmsghdr align;
  } cbuf;
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
  if (fd >= 0)
    {
      memset (&cbuf, 0, sizeof cbuf);
      mh.msg_control = cbuf.b;
      mh.msg_controllen = sizeof cbuf.b;
      struct cmsghdr *cm = CMSG_FIRSTHDR (&mh);
      cm->cmsg_level = SOL_SOCKET;
      cm->cmsg_type = SCM_RIGHTS;
      cm->cmsg_len = CMSG_LEN (sizeof (int));
      memcpy (CMSG_DATA (cm), &fd, sizeof fd);
    }
  ssize_t n;
  do
    n = sendmsg (sock, &mh, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return cr_error_errno (err, "send sync message");
  return 0;
}

int
cr_sync_recv (int sock, enum cr_sync_msg *type, char **text, int *fd, cr_error_t *err)
{
  char buf[4097];
  struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf - 1 };
  union
  {
    char b[CMSG_SPACE (sizeof (int))];
    struct cmsghdr align;
  } cbuf;
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.b, .msg_controllen = sizeof cbuf.b };
  if (text)
    *text = NULL;
  if (fd)
    *fd = -1;
  ssize_t n;
  do
    n = recvmsg (sock, &mh, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return cr_error_errno (err, "receive sync message");
  if (n == 0)
    return cr_error (err, 0, "container init exited during setup");
  if ((size_t) n < sizeof (struct msg_hdr))
    return cr_error (err, 0, "short sync message");
  struct msg_hdr h;
  memcpy (&h, buf, sizeof h);
  *type = (enum cr_sync_msg) h.type;
  buf[n] = '\0';
  if (text && (size_t) n > sizeof h)
    *text = xstrdup (buf + sizeof h);
  for (struct cmsghdr *cm = CMSG_FIRSTHDR (&mh); cm; cm = CMSG_NXTHDR (&mh, cm))
    if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
      {
        int got;
        memcpy (&got, CMSG_DATA (cm), sizeof got);
        if (fd)
          *fd = got;
        else
          close (got);
      }
  return 0;
}

int
cr_sync_expect (int sock, enum cr_sync_msg want, int *fd, cr_error_t *err)
{
  enum cr_sync_msg t;
  cleanup_free char *text = NULL;
  if (cr_sync_recv (sock, &t, &text, fd, err) < 0)
    return -1;
  if (t == CR_SYNC_ERROR)
    return cr_error (err, 0, "%s", text ? text : "container init failed");
  if (t != want)
    return cr_error (err, 0, "unexpected sync message %d (wanted %d)", (int) t, (int) want);
  return 0;
}
