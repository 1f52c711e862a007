/*
 * Creating a socket inside another network namespace. A socket belongs for life to the namespace
 * of the thread that created it, so a short-lived helper thread enters the namespace, creates the
 * socket and exits. Node's own thread never changes namespace, whatever fails.
 */
#include "sockets.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

typedef struct {
  const char *path;
  const ml_socket_opts *opts;
  int result;
  const char *syscall;
} ml_netns_job;

static void *ml_netns_worker(void *arg) {
  ml_netns_job *job = arg;
  int nsfd = open(job->path, O_RDONLY | O_CLOEXEC);
  if (nsfd < 0) {
    job->result = -errno;
    job->syscall = "open(netns)";
    return NULL;
  }
  if (setns(nsfd, CLONE_NEWNET) != 0) {
    job->result = -errno;
    job->syscall = "setns";
    close(nsfd);
    return NULL;
  }
  close(nsfd);
  job->result = ml_socket_create(job->opts, &job->syscall);
  return NULL; /* the thread ends here, still inside the namespace: nothing else runs on it */
}

int ml_socket_create_in_netns(const char *netns_path, const ml_socket_opts *opts, const char **syscall) {
  ml_netns_job job = {netns_path, opts, -EINVAL, "socket"};
  pthread_t thread;
  int rc = pthread_create(&thread, NULL, ml_netns_worker, &job);
  if (rc != 0) {
    if (syscall) *syscall = "pthread_create";
    return -rc;
  }
  rc = pthread_join(thread, NULL);
  if (rc != 0) {
    if (syscall) *syscall = "pthread_join";
    return -rc;
  }
  if (job.result < 0 && syscall) *syscall = job.syscall;
  return job.result;
}
