/**
 * Argument checks and small pure helpers for the native primitives (unit-tested without the addon).
 */
import { isIP, type Server, type Socket } from 'node:net';
import { MeshError } from '../common/errors.js';

/** The mark ztunnel puts on its own sockets so the pod's capture rules let them through. */
export const ZTUNNEL_MARK = 0x539;

export type IpFamily = 4 | 6;

function argError(message: string): MeshError {
  return new MeshError('NATIVE_ERR_ARGS', message);
}

export function checkMark(mark: number): number {
  if (!Number.isInteger(mark) || mark < 0 || mark > 0xffffffff) {
    throw argError(`socket mark must be an integer from 0 to 0xffffffff, got ${String(mark)}`);
  }
  return mark;
}

export function checkPort(port: number, what = 'port'): number {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw argError(`${what} must be an integer from 0 to 65535, got ${String(port)}`);
  }
  return port;
}

/** The family of an IP literal; host names are refused (the socket's family is fixed before any lookup). */
export function familyOfIp(ip: string, what = 'address'): IpFamily {
  const family = isIP(ip);
  if (family === 4 || family === 6) return family;
  throw argError(`${what} must be an IP address (resolve names before calling), got ${JSON.stringify(ip)}`);
}

/** A network namespace given as a path (/run/netns/NAME, /proc/PID/ns/net); '' is refused. */
export function checkNetnsPath(path: string): string {
  if (typeof path !== 'string' || !path.startsWith('/') || path.includes('\0')) {
    throw argError(
      `network namespace must be an absolute path such as /run/netns/NAME, got ${JSON.stringify(path)}`,
    );
  }
  return path;
}

/**
 * The file descriptor under a net.Socket or net.Server (or a number given as is). Node keeps it on
 * the libuv handle; it is -1 while a socket made by net.connect() has not started connecting.
 */
export function fdOf(target: Socket | Server | number): number {
  if (typeof target === 'number') {
    if (!Number.isInteger(target) || target < 0)
      throw argError(`file descriptor must be >= 0, got ${target}`);
    return target;
  }
  const handle = (target as unknown as { _handle?: { fd?: unknown } | null })._handle;
  const fd = handle?.fd;
  if (typeof fd !== 'number' || fd < 0) {
    throw new MeshError(
      'NATIVE_ERR_NO_FD',
      'the socket has no file descriptor yet (not connected, or already closed); create it with connectSocket() to set options before connecting',
    );
  }
  return fd;
}

/** The wildcard address of a family, for listeners with no host. */
export function anyAddress(family: IpFamily): string {
  return family === 6 ? '::' : '0.0.0.0';
}
