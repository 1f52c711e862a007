/**
 * What Node lacks for traffic capture, from a small N-API addon (native/): the original destination
 * after REDIRECT, SO_MARK, IP_TRANSPARENT, and sockets created inside other network namespaces.
 * Linux only; `nativeStatus()` tells whether it is usable here (else the mesh runs in loopback mode).
 */
export { nativeStatus, type NativeStatus } from './binding.js';
export { ZTUNNEL_MARK, fdOf, type IpFamily } from './options.js';
export { getOriginalDst, setMark, getMark, setTransparent, type OriginalDst } from './sockets.js';
export {
  createSocketFd,
  connectSocket,
  connectInNamespace,
  type SocketOptions,
  type ConnectOptions,
} from './connect.js';
export { openListenerFd, listenInNamespace, type ListenOptions } from './listen.js';
export { mallocTrim } from './memory.js';
