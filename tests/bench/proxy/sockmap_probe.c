/* sockmap_probe: the in-kernel splice experiment behind docs/bench-proxy.md
 * ("CONNECT and BPF sockmap").  Not part of capsule-proxy.
 *
 * A one-connection-at-a-time CONNECT tunnel whose download direction never
 * reaches user space: the upstream socket sits in a SOCKMAP with an
 * sk_skb verdict program that redirects every received skb to the egress
 * of the client socket (kept in a second map, so the client's own receive
 * path stays ordinary).  The upload direction is plain splice.
 *
 * It answers two questions: is the hop cheaper in the kernel (throughput
 * against direct), and does the redirect keep back-pressure (bytes taken
 * off the upstream socket while the client reads slowly).
 *
 * usage: sockmap_probe LISTEN_PORT   (127.0.0.1; tunnels only to
 * "CONNECT 127.0.0.1:PORT") */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define INSN(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })

static int
die (const char *what)
{
  fprintf (stderr, "sockmap_probe: %s: %s\n", what, strerror (errno));
  exit (1);
}

static long
sys_bpf (int cmd, union bpf_attr *a)
{
  return syscall (__NR_bpf, cmd, a, sizeof *a);
}

static int
sockmap_new (void)
{
  union bpf_attr a = { .map_type = BPF_MAP_TYPE_SOCKMAP, .key_size = 4, .value_size = 4, .max_entries = 1 };
  int fd = (int) sys_bpf (BPF_MAP_CREATE, &a);
  if (fd < 0)
    die ("creating a SOCKMAP");
  return fd;
}

static void
sockmap_set (int map, int sock)
{
  unsigned key = 0, val = (unsigned) sock;
  union bpf_attr a = { .map_fd = (unsigned) map, .key = (unsigned long) &key, .value = (unsigned long) &val, .flags = BPF_ANY };
  if (sys_bpf (BPF_MAP_UPDATE_ELEM, &a) < 0)
    die ("adding a socket to the SOCKMAP");
}

static void
sockmap_clear (int map)
{
  unsigned key = 0;
  union bpf_attr a = { .map_fd = (unsigned) map, .key = (unsigned long) &key };
  sys_bpf (BPF_MAP_DELETE_ELEM, &a);
}

/* verdict: return bpf_sk_redirect_map (skb, clients, 0, 0) - egress of the
 * client socket in slot 0 */
static int
verdict_load (int clients)
{
  struct bpf_insn p[] = {
    INSN (BPF_LD | BPF_DW | BPF_IMM, 2, BPF_PSEUDO_MAP_FD, 0, clients), INSN (0, 0, 0, 0, 0),
    INSN (BPF_ALU64 | BPF_MOV | BPF_K, 3, 0, 0, 0),
    INSN (BPF_ALU64 | BPF_MOV | BPF_K, 4, 0, 0, 0),
    INSN (BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_sk_redirect_map),
    INSN (BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
  };
  static char log[16384];
  union bpf_attr a = { .prog_type = BPF_PROG_TYPE_SK_SKB, .insns = (unsigned long) p,
                       .insn_cnt = sizeof p / sizeof p[0], .license = (unsigned long) "GPL",
                       .log_buf = (unsigned long) log, .log_size = sizeof log, .log_level = 1 };
  int fd = (int) sys_bpf (BPF_PROG_LOAD, &a);
  if (fd < 0)
    {
      fprintf (stderr, "%s\n", log);
      die ("loading the sk_skb verdict program");
    }
  return fd;
}

static void
tunnel (int c, int up_map, int client_map)
{
  char req[4096];
  size_t n = 0;
  while (n < sizeof req - 1 && !memmem (req, n, "\r\n\r\n", 4))
    {
      ssize_t r = read (c, req + n, sizeof req - 1 - n);
      if (r <= 0)
        return;
      n += (size_t) r;
    }
  req[n] = '\0';
  static const char pfx[] = "CONNECT 127.0.0.1:";
  int port = strncmp (req, pfx, sizeof pfx - 1) == 0 ? atoi (req + sizeof pfx - 1) : 0;
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons ((unsigned short) port),
                            .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  int u = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (port <= 0 || port > 65535 || connect (u, (struct sockaddr *) &sa, sizeof sa) < 0)
    {
      static const char bad[] = "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n";
      if (write (c, bad, sizeof bad - 1) < 0)
        fprintf (stderr, "sockmap_probe: writing the 502 failed\n");
      close (u);
      return;
    }
  /* both sockets go into the maps before the 200: the client cannot have
   * sent tunnel bytes yet and an HTTP origin does not speak first, so no
   * byte is already queued on a socket when its redirect starts */
  sockmap_set (client_map, c);
  sockmap_set (up_map, u);
  static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
  if (write (c, ok, sizeof ok - 1) < 0)
    return;
  int p[2];
  if (pipe2 (p, O_CLOEXEC) < 0)
    die ("pipe2");
  struct pollfd fds[2] = { { .fd = c, .events = POLLIN }, { .fd = u, .events = POLLIN | POLLRDHUP } };
  bool c_eof = false, u_eof = false;
  while (!c_eof || !u_eof)
    {
      fds[0].events = c_eof ? 0 : POLLIN;
      fds[1].events = u_eof ? 0 : POLLIN | POLLRDHUP;
      if (poll (fds, 2, -1) < 0 && errno != EINTR)
        die ("poll");
      if (fds[0].revents)
        {
          ssize_t r = splice (c, NULL, p[1], NULL, 1 << 16, SPLICE_F_NONBLOCK);
          if (r <= 0 && !(r < 0 && errno == EAGAIN))
            {
              c_eof = true;
              shutdown (u, SHUT_WR);
            }
          while (r > 0)
            {
              ssize_t w = splice (p[0], NULL, u, NULL, (size_t) r, 0);
              if (w <= 0)
                break;
              r -= w;
            }
        }
      if (fds[1].revents)
        {
          /* the data went to the client in the kernel; only the end (or an
           * error) is seen here.  The redirect is asynchronous (a work
           * item sends it), so a clean end needs a grace period. */
          char t[1];
          ssize_t r = recv (u, t, sizeof t, MSG_DONTWAIT | MSG_PEEK);
          if (r == 0 || (r < 0 && errno != EAGAIN) || (fds[1].revents & (POLLRDHUP | POLLHUP)))
            {
              u_eof = true;
              usleep (100000);
              shutdown (c, SHUT_WR);
            }
          else if (r > 0)
            {
              fprintf (stderr, "sockmap_probe: a byte reached user space: redirect not in place\n");
              exit (1);
            }
        }
    }
  close (p[0]);
  close (p[1]);
  sockmap_clear (up_map);
  sockmap_clear (client_map);
  close (u);
}

int
main (int argc, char **argv)
{
  if (argc != 2)
    {
      fprintf (stderr, "usage: sockmap_probe LISTEN_PORT\n");
      return 2;
    }
  int up_map = sockmap_new (), client_map = sockmap_new ();
  int prog = verdict_load (client_map);
  union bpf_attr a = { .target_fd = (unsigned) up_map, .attach_bpf_fd = (unsigned) prog, .attach_type = BPF_SK_SKB_VERDICT };
  if (sys_bpf (BPF_PROG_ATTACH, &a) < 0)
    die ("attaching the verdict program to the SOCKMAP");

  int ls = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons ((unsigned short) atoi (argv[1])),
                            .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  setsockopt (ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind (ls, (struct sockaddr *) &sa, sizeof sa) < 0 || listen (ls, 16) < 0)
    die ("listening");
  fprintf (stderr, "sockmap_probe: listening on 127.0.0.1:%s\n", argv[1]);
  for (;;)
    {
      int c = accept4 (ls, NULL, NULL, SOCK_CLOEXEC);
      if (c < 0)
        continue;
      tunnel (c, up_map, client_map);
      close (c);
    }
}
