#include "terminal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "util.h"

int
cr_terminal_open (int *master, char **slave_path, cr_error_t *err)
{
  int m = open ("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (m < 0)
    return cr_error_errno (err, "open /dev/ptmx");
  int unlock = 0;
  if (ioctl (m, TIOCSPTLCK, &unlock) < 0)
    {
      close (m);
      return cr_error_errno (err, "unlock pty");
    }
  int n;
  if (ioctl (m, TIOCGPTN, &n) < 0)
    {
      close (m);
      return cr_error_errno (err, "get pty number");
    }
  *slave_path = xasprintf ("/dev/pts/%d", n);
  *master = m;
  return 0;
}

int
cr_terminal_become (const char *slave_path, unsigned rows, unsigned cols, cr_error_t *err)
{
  int s = open (slave_path, O_RDWR | O_NOCTTY);
  if (s < 0)
    return cr_error_errno (err, "open terminal `%s`", slave_path);
  if (rows || cols)
    {
      struct winsize ws = { .ws_row = (unsigned short) rows, .ws_col = (unsigned short) cols };
      ioctl (s, TIOCSWINSZ, &ws);
    }
  if (setsid () < 0 && errno != EPERM)
    return cr_error_errno (err, "setsid");
  if (ioctl (s, TIOCSCTTY, 0) < 0)
    return cr_error_errno (err, "make `%s` the controlling terminal", slave_path);
  for (int fd = 0; fd < 3; fd++)
    if (dup2 (s, fd) < 0)
      return cr_error_errno (err, "dup2 terminal");
  if (s > 2)
    close (s);
  return 0;
}

int
cr_console_socket_connect (const char *socket_path, cr_error_t *err)
{
  int sock = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0)
    return cr_error_errno (err, "create console socket");
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  if (strlen (socket_path) >= sizeof addr.sun_path)
    {
      close (sock);
      return cr_error (err, ENAMETOOLONG, "console socket path `%s`", socket_path);
    }
  strcpy (addr.sun_path, socket_path);
  if (connect (sock, (struct sockaddr *) &addr, sizeof addr) < 0)
    {
      int e = errno;
      close (sock);
      return cr_error (err, e, "connect to console socket `%s`", socket_path);
    }
  return sock;
}

int
cr_console_socket_send_fd (int sock, int master, cr_error_t *err)
{
  char name[] = "/dev/ptmx";
  struct iovec iov = { .iov_base = name, .iov_len = sizeof name - 1 };
  union
  {
    char b[CMSG_SPACE (sizeof (int))];
    struct cmsghdr align;
  } cbuf;
  memset (&cbuf, 0, sizeof cbuf);
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.b, .msg_controllen = sizeof cbuf.b };
  struct cmsghdr *cm = CMSG_FIRSTHDR (&mh);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN (sizeof (int));
  memcpy (CMSG_DATA (cm), &master, sizeof master);
  if (sendmsg (sock, &mh, MSG_NOSIGNAL) < 0)
    return cr_error_errno (err, "send terminal to console socket");
  return 0;
}

int
cr_console_socket_send (const char *socket_path, int master, cr_error_t *err)
{
  cleanup_close int sock = cr_console_socket_connect (socket_path, err);
  if (sock < 0)
    return -1;
  return cr_console_socket_send_fd (sock, master, err);
}

bool
cr_terminal_host_size (unsigned *rows, unsigned *cols)
{
  for (int fd = 0; fd < 3; fd++)
    {
      struct winsize ws;
      if (ioctl (fd, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col)
        {
          *rows = ws.ws_row;
          *cols = ws.ws_col;
          return true;
        }
    }
  return false;
}

void
cr_terminal_proxy (int master, int child_pidfd)
{
  struct termios saved, raw;
  bool is_tty = tcgetattr (STDIN_FILENO, &saved) == 0;
  if (is_tty)
    {
      raw = saved;
      cfmakeraw (&raw);
      tcsetattr (STDIN_FILENO, TCSANOW, &raw);
      struct winsize ws;
      /* A size-less terminal (0x0) must not clobber process.consoleSize. */
      if (ioctl (STDIN_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col)
        ioctl (master, TIOCSWINSZ, &ws);
    }
  char buf[8192];
  bool in_open = true;
  for (;;)
    {
      struct pollfd p[3] = { { master, POLLIN, 0 }, { in_open ? STDIN_FILENO : -1, POLLIN, 0 }, { child_pidfd, POLLIN, 0 } };
      if (poll (p, 3, -1) < 0)
        {
          if (errno != EINTR)
            break;
          /* Maybe SIGWINCH: like runc, the host terminal's size goes to the pty. */
          struct winsize ws;
          if (is_tty && ioctl (STDIN_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col)
            ioctl (master, TIOCSWINSZ, &ws);
          continue;
        }
      if (p[0].revents & POLLIN)
        {
          ssize_t n = read (master, buf, sizeof buf);
          if (n <= 0)
            break;
          if (write (STDOUT_FILENO, buf, (size_t) n) < 0)
            break;
        }
      else if (p[0].revents & (POLLHUP | POLLERR))
        break;
      if (p[1].revents & (POLLIN | POLLHUP))
        {
          ssize_t n = read (STDIN_FILENO, buf, sizeof buf);
          if (n <= 0)
            in_open = false;
          else if (write (master, buf, (size_t) n) < 0)
            in_open = false;
        }
      if ((p[2].revents & POLLIN) && !(p[0].revents & POLLIN))
        break;
    }
  if (is_tty)
    tcsetattr (STDIN_FILENO, TCSANOW, &saved);
}
