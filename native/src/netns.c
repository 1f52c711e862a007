/*
 * Creating a socket inside another network namespace. A socket belongs for life to the namespace of
 * the thread that created it, so the calling thread enters the namespace (setns), creates the socket
 * and goes straight back, with no JavaScript running in between. Going back uses a descriptor of the
 * thread's own namespace opened once per thread. If going back ever failed the process aborts:
 * carrying on with Node's thread in a pod's namespace would silently misroute everything after.
 *
 * (A short-lived helper thread per call is the alternative; measured here it cost ~54 us per socket
 * against ~4 us for this, which matters when ztunnel connects to a pod per inbound connection.)
 */
#include "sockets.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static __thread int home_ns_fd = -1;

int ml_socket_create_in_netns(const char *netns_path, const ml_socket_opts *opts, const char **syscall) {
  if (home_ns_fd < 0) {
    home_ns_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (home_ns_fd < 0) {
      if (syscall) *syscall = "open(/proc/thread-self/ns/net)";
      return -errno;
    }
  }
  int nsfd = open(netns_path, O_RDONLY | O_CLOEXEC);
  if (nsfd < 0) {
    if (syscall) *syscall = "open(netns)";
    return -errno;
  }
  if (setns(nsfd, CLONE_NEWNET) != 0) {
    int err = errno;
    close(nsfd);
    if (syscall) *syscall = "setns";
    return -err;
  }
  close(nsfd);
  int fd = ml_socket_create(opts, syscall);
  if (setns(home_ns_fd, CLONE_NEWNET) != 0) {
    fprintf(stderr, "meshlite native: could not return to the home network namespace: %s; aborting\n",
            strerror(errno));
    abort();
  }
  return fd;
}
