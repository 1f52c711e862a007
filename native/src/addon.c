/*
 * N-API glue for sockets.c / netns.c. Arguments are checked in TypeScript (src/native/); here they
 * are only read. Failures throw an Error with `code` (errno name), `errno` and `syscall`.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <node_api.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sockets.h"

#define CHECK(call)                                                                                \
  do {                                                                                             \
    if ((call) != napi_ok) return NULL;                                                            \
  } while (0)

static napi_value throw_errno(napi_env env, int err, const char *syscall) {
  const char *name = strerrorname_np(err);
  char msg[256];
  snprintf(msg, sizeof(msg), "%s failed: %s", syscall, strerror(err));
  napi_value code, message, error, num, sys;
  CHECK(napi_create_string_utf8(env, name ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &code));
  CHECK(napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message));
  CHECK(napi_create_error(env, code, message, &error));
  CHECK(napi_create_int32(env, err, &num));
  CHECK(napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sys));
  napi_set_named_property(env, error, "errno", num);
  napi_set_named_property(env, error, "syscall", sys);
  napi_throw(env, error);
  return NULL;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return -1;
  if (argc < want) {
    napi_throw_type_error(env, "ERR_NATIVE_ARGS", "too few arguments");
    return -1;
  }
  return 0;
}

static napi_value int_value(napi_env env, int v) {
  napi_value out;
  CHECK(napi_create_int32(env, v, &out));
  return out;
}

/* socket(family: 4|6, netnsPath: string (empty = here), mark: number (-1 = none), transparent) */
static napi_value js_socket(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (get_args(env, info, 4, argv) != 0) return NULL;
  int32_t family, mark;
  bool transparent;
  char path[4096];
  size_t plen = 0;
  CHECK(napi_get_value_int32(env, argv[0], &family));
  CHECK(napi_get_value_string_utf8(env, argv[1], path, sizeof(path), &plen));
  CHECK(napi_get_value_int32(env, argv[2], &mark));
  CHECK(napi_get_value_bool(env, argv[3], &transparent));
  ml_socket_opts opts = {family == 6 ? AF_INET6 : AF_INET, mark, transparent};
  const char *syscall = "socket";
  int fd = plen > 0 ? ml_socket_create_in_netns(path, &opts, &syscall) : ml_socket_create(&opts, &syscall);
  if (fd < 0) return throw_errno(env, -fd, syscall);
  return int_value(env, fd);
}

/* bindListen(fd, ip, port, backlog, v6only, reusePort) */
static napi_value js_bind_listen(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (get_args(env, info, 6, argv) != 0) return NULL;
  int32_t fd, port, backlog;
  bool v6only, reuseport;
  char ip[INET6_ADDRSTRLEN + 1];
  size_t iplen;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  CHECK(napi_get_value_string_utf8(env, argv[1], ip, sizeof(ip), &iplen));
  CHECK(napi_get_value_int32(env, argv[2], &port));
  CHECK(napi_get_value_int32(env, argv[3], &backlog));
  CHECK(napi_get_value_bool(env, argv[4], &v6only));
  CHECK(napi_get_value_bool(env, argv[5], &reuseport));
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof(ss));
  socklen_t len;
  struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
  if (inet_pton(AF_INET, ip, &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons((uint16_t)port);
    len = sizeof(*in4);
  } else if (inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    len = sizeof(*in6);
  } else {
    return throw_errno(env, EINVAL, "inet_pton");
  }
  const char *syscall = "bind";
  int rc = ml_bind_listen(fd, (struct sockaddr *)&ss, len, backlog, v6only, reuseport, &syscall);
  if (rc < 0) return throw_errno(env, -rc, syscall);
  return NULL;
}

/* getOriginalDst(fd) -> { ip, port, family } */
static napi_value js_get_original_dst(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (get_args(env, info, 1, argv) != 0) return NULL;
  int32_t fd;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  struct sockaddr_storage ss;
  const char *syscall = "getsockopt";
  int rc = ml_get_original_dst(fd, &ss, &syscall);
  if (rc < 0) return throw_errno(env, -rc, syscall);
  char ip[INET6_ADDRSTRLEN];
  int port, family;
  if (ss.ss_family == AF_INET6) {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
    port = ntohs(in6->sin6_port);
    family = 6;
  } else {
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    inet_ntop(AF_INET, &in4->sin_addr, ip, sizeof(ip));
    port = ntohs(in4->sin_port);
    family = 4;
  }
  napi_value out, vip;
  CHECK(napi_create_object(env, &out));
  CHECK(napi_create_string_utf8(env, ip, NAPI_AUTO_LENGTH, &vip));
  CHECK(napi_set_named_property(env, out, "ip", vip));
  CHECK(napi_set_named_property(env, out, "port", int_value(env, port)));
  CHECK(napi_set_named_property(env, out, "family", int_value(env, family)));
  return out;
}

/* setMark(fd, mark) */
static napi_value js_set_mark(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (get_args(env, info, 2, argv) != 0) return NULL;
  int32_t fd;
  uint32_t mark;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  CHECK(napi_get_value_uint32(env, argv[1], &mark));
  int rc = ml_set_mark(fd, mark);
  if (rc < 0) return throw_errno(env, -rc, "setsockopt(SO_MARK)");
  return NULL;
}

/* getMark(fd) -> number */
static napi_value js_get_mark(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (get_args(env, info, 1, argv) != 0) return NULL;
  int32_t fd;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  unsigned int mark = 0;
  int rc = ml_get_mark(fd, &mark);
  if (rc < 0) return throw_errno(env, -rc, "getsockopt(SO_MARK)");
  napi_value out;
  CHECK(napi_create_uint32(env, mark, &out));
  return out;
}

/* setTransparent(fd, on) */
static napi_value js_set_transparent(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (get_args(env, info, 2, argv) != 0) return NULL;
  int32_t fd;
  bool on;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  CHECK(napi_get_value_bool(env, argv[1], &on));
  int rc = ml_set_transparent(fd, on ? 1 : 0);
  if (rc < 0) return throw_errno(env, -rc, "setsockopt(IP_TRANSPARENT)");
  return NULL;
}

/* close(fd): for error paths before the descriptor is handed to Node. */
static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (get_args(env, info, 1, argv) != 0) return NULL;
  int32_t fd;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  if (close(fd) != 0) return throw_errno(env, errno, "close");
  return NULL;
}

/* mallocTrim() -> boolean: hands the C heap's free pages back to the kernel (glibc malloc_trim(0));
 * true when some memory was released. Elsewhere than glibc: false, nothing done. */
static napi_value js_malloc_trim(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
#ifdef __GLIBC__
  CHECK(napi_get_boolean(env, malloc_trim(0) == 1, &out));
#else
  CHECK(napi_get_boolean(env, false, &out));
#endif
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"socket", NULL, js_socket, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bindListen", NULL, js_bind_listen, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getOriginalDst", NULL, js_get_original_dst, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setMark", NULL, js_set_mark, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getMark", NULL, js_get_mark, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setTransparent", NULL, js_set_transparent, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mallocTrim", NULL, js_malloc_trim, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
