#include "sockets.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80 /* linux/netfilter_ipv4.h */
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80 /* linux/netfilter_ipv6/ip6_tables.h */
#endif
#ifndef IP_TRANSPARENT
#define IP_TRANSPARENT 19
#endif
#ifndef IPV6_TRANSPARENT
#define IPV6_TRANSPARENT 75
#endif

#define FAIL(name)                                                                                 \
  do {                                                                                             \
    if (syscall) *syscall = (name);                                                                \
    return -errno;                                                                                 \
  } while (0)

int ml_socket_domain(int fd) {
  int domain = 0;
  socklen_t len = sizeof(domain);
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) return -errno;
  return domain;
}

int ml_set_mark(int fd, unsigned int mark) {
  if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) != 0) return -errno;
  return 0;
}

int ml_get_mark(int fd, unsigned int *mark) {
  socklen_t len = sizeof(*mark);
  if (getsockopt(fd, SOL_SOCKET, SO_MARK, mark, &len) != 0) return -errno;
  return 0;
}

int ml_set_transparent(int fd, int on) {
  int domain = ml_socket_domain(fd);
  if (domain < 0) return domain;
  int rc = domain == AF_INET6 ? setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &on, sizeof(on))
                              : setsockopt(fd, SOL_IP, IP_TRANSPARENT, &on, sizeof(on));
  return rc != 0 ? -errno : 0;
}

int ml_socket_create(const ml_socket_opts *opts, const char **syscall) {
  int fd = socket(opts->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) FAIL("socket");
  int rc = 0;
  if (opts->mark >= 0 && (rc = ml_set_mark(fd, (unsigned int)opts->mark)) != 0) {
    if (syscall) *syscall = "setsockopt(SO_MARK)";
  } else if (opts->transparent && (rc = ml_set_transparent(fd, 1)) != 0) {
    if (syscall) *syscall = "setsockopt(IP_TRANSPARENT)";
  }
  if (rc != 0) {
    close(fd);
    return rc;
  }
  return fd;
}

int ml_bind_listen(int fd, const struct sockaddr *addr, socklen_t len, int backlog, int v6only,
                   int reuseport, const char **syscall) {
  int on = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0) FAIL("setsockopt(SO_REUSEADDR)");
  /* A second process (a restarting ztunnel) may listen on the same port before the first stops. */
  if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0)
    FAIL("setsockopt(SO_REUSEPORT)");
  if (addr->sa_family == AF_INET6 &&
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) != 0)
    FAIL("setsockopt(IPV6_V6ONLY)");
  if (bind(fd, addr, len) != 0) FAIL("bind");
  if (listen(fd, backlog) != 0) FAIL("listen");
  return 0;
}

/* The destination the client asked for before nat REDIRECT rewrote it (kept by conntrack). */
int ml_get_original_dst(int fd, struct sockaddr_storage *out, const char **syscall) {
  memset(out, 0, sizeof(*out));
  int domain = ml_socket_domain(fd);
  if (domain < 0) FAIL("getsockopt(SO_DOMAIN)");
  if (domain == AF_INET6) {
    /* An IPv4 connection accepted on a dual-stack socket has a v4-mapped local address: ask the
     * IPv4 table for it. */
    struct sockaddr_in6 local;
    socklen_t llen = sizeof(local);
    if (getsockname(fd, (struct sockaddr *)&local, &llen) != 0) FAIL("getsockname");
    if (!IN6_IS_ADDR_V4MAPPED(&local.sin6_addr)) {
      socklen_t len = sizeof(struct sockaddr_in6);
      if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, out, &len) != 0)
        FAIL("getsockopt(IP6T_SO_ORIGINAL_DST)");
      return 0;
    }
  }
  socklen_t len = sizeof(struct sockaddr_in);
  if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, out, &len) != 0) FAIL("getsockopt(SO_ORIGINAL_DST)");
  return 0;
}
