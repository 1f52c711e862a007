/**
 * Socket options Node has no API for, on sockets Node already owns: the original destination after
 * nat REDIRECT, SO_MARK, IP_TRANSPARENT.
 */
import type { Server, Socket } from 'node:net';
import { nativeError, requireNative } from './binding.js';
import { checkMark, fdOf, type IpFamily } from './options.js';

export interface OriginalDst {
  ip: string;
  port: number;
  family: IpFamily;
}

const PERM_HINT = 'this needs CAP_NET_ADMIN (run as root)';

/**
 * The destination the client connected to before nftables REDIRECT sent it to our listener
 * (SO_ORIGINAL_DST for IPv4, IP6T_SO_ORIGINAL_DST for IPv6). Call it on an accepted socket.
 */
export function getOriginalDst(socket: Socket | number): OriginalDst {
  const native = requireNative();
  const fd = fdOf(socket);
  try {
    return native.getOriginalDst(fd);
  } catch (err) {
    throw nativeError(
      'reading the original destination (SO_ORIGINAL_DST)',
      err,
      'the connection must have been redirected by nat rules with connection tracking on (nf_conntrack)',
    );
  }
}

/** Sets SO_MARK on a socket, a server's listening socket or a raw file descriptor. */
export function setMark(target: Socket | Server | number, mark: number): void {
  const native = requireNative();
  const fd = fdOf(target);
  try {
    native.setMark(fd, checkMark(mark));
  } catch (err) {
    throw nativeError(`setting SO_MARK ${mark}`, err, PERM_HINT);
  }
}

/** Reads SO_MARK back (for checks and diagnostics). */
export function getMark(target: Socket | Server | number): number {
  const native = requireNative();
  const fd = fdOf(target);
  try {
    return native.getMark(fd);
  } catch (err) {
    throw nativeError('reading SO_MARK', err);
  }
}

/**
 * Sets IP_TRANSPARENT (IPV6_TRANSPARENT on IPv6 sockets): the socket may bind to an address that is
 * not local (TPROXY listeners, or an outbound socket keeping the client's source address). It only
 * helps before bind; for listeners and outbound sockets pass `transparent: true` at creation instead.
 */
export function setTransparent(target: Socket | Server | number, on = true): void {
  const native = requireNative();
  const fd = fdOf(target);
  try {
    native.setTransparent(fd, on);
  } catch (err) {
    throw nativeError('setting IP_TRANSPARENT', err, PERM_HINT);
  }
}
