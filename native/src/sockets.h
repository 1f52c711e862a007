/*
 * Socket primitives Node lacks: SO_MARK, IP_TRANSPARENT, SO_ORIGINAL_DST, creating a socket inside
 * another network namespace. Plain POSIX/Linux; the N-API glue lives in addon.c.
 * Every function returns 0 (or a file descriptor) on success and -errno on failure, and names the
 * failing system call through *syscall when it is given.
 */
#ifndef MESHLITE_SOCKETS_H
#define MESHLITE_SOCKETS_H

#include <netinet/in.h>
#include <sys/socket.h>

typedef struct {
  int family;      /* AF_INET or AF_INET6 */
  int mark;        /* SO_MARK value, or -1 for none */
  int transparent; /* set IP_TRANSPARENT / IPV6_TRANSPARENT */
} ml_socket_opts;

int ml_socket_create(const ml_socket_opts *opts, const char **syscall);
int ml_socket_create_in_netns(const char *netns_path, const ml_socket_opts *opts, const char **syscall);
int ml_set_mark(int fd, unsigned int mark);
int ml_get_mark(int fd, unsigned int *mark);
int ml_set_transparent(int fd, int on);
int ml_socket_domain(int fd);
int ml_bind_listen(int fd, const struct sockaddr *addr, socklen_t len, int backlog, int v6only,
                   int reuseport, const char **syscall);
int ml_get_original_dst(int fd, struct sockaddr_storage *out, const char **syscall);

#endif
