/**
 * Outbound sockets with options set before they connect (SO_MARK, IP_TRANSPARENT) and, if asked,
 * created inside another network namespace. The addon creates the file descriptor; Node then wraps
 * it in a net.Socket and connects it with its own `socket.connect()`, so the result is an ordinary
 * net.Socket: 'connect', 'error', backpressure and timeouts as usual.
 */
import { Socket } from 'node:net';
import { MeshError } from '../common/errors.js';
import { nativeError, requireNative } from './binding.js';
import { checkMark, checkNetnsPath, checkPort, familyOfIp, type IpFamily } from './options.js';

export interface SocketOptions {
  /** SO_MARK for the socket (ztunnel uses 0x539 so capture rules let its traffic through). */
  mark?: number;
  /** IP_TRANSPARENT: allows `localAddress` to be an address this host does not own. */
  transparent?: boolean;
  /** Create the socket in this network namespace (/run/netns/NAME or /proc/PID/ns/net). */
  netns?: string;
}

export interface ConnectOptions extends SocketOptions {
  /** An IP address (names must be resolved first: the socket's family is fixed at creation). */
  host: string;
  port: number;
  /** Bind to this source address first (with `transparent`, it may be a foreign one). */
  localAddress?: string;
  localPort?: number;
  /** As net.connect's: keep our sending side open after the peer's FIN (a proxy passes the FIN on). */
  allowHalfOpen?: boolean;
  /** As net.connect's: TCP_NODELAY once connected (a proxy forwards what it has at once). */
  noDelay?: boolean;
}

/**
 * A new non-blocking TCP socket's file descriptor, options already set. The caller owns it: hand
 * it to `new net.Socket({ fd })` or `server.listen({ fd })`, or close it.
 */
export function createSocketFd(family: IpFamily, options: SocketOptions = {}): number {
  const native = requireNative();
  const mark = options.mark === undefined ? -1 : checkMark(options.mark);
  const netns = options.netns === undefined ? '' : checkNetnsPath(options.netns);
  try {
    return native.socket(family, netns, mark, options.transparent === true);
  } catch (err) {
    const where = netns ? ` in network namespace ${netns}` : '';
    const code = (err as { code?: unknown }).code;
    const hint =
      code === 'ENOENT'
        ? 'check that the namespace exists (ip netns list)'
        : code === 'EPERM'
          ? 'entering a namespace and SO_MARK / IP_TRANSPARENT need root (CAP_SYS_ADMIN, CAP_NET_ADMIN)'
          : '';
    throw nativeError(`creating an IPv${family} TCP socket${where}`, err, hint);
  }
}

/** Wraps a fresh (unconnected) socket descriptor; the caller connects it at once, in the same tick. */
function wrapFd(fd: number, allowHalfOpen: boolean): Socket {
  try {
    // manualStart: do not start reading before connect() (Node's own option for handed-over fds).
    return new Socket({ fd, manualStart: true, allowHalfOpen } as ConstructorParameters<typeof Socket>[0]);
  } catch (err) {
    requireNative().close(fd);
    throw new MeshError('NATIVE_ERR_WRAP', `Node refused the native socket (fd ${fd}): ${String(err)}`, {
      cause: err,
    });
  }
}

/**
 * Connects to host:port from a socket made with the given options. Returns at once, like
 * net.connect(): wait for 'connect'; connection failures arrive as 'error' on the socket. Errors in
 * making the socket (bad arguments, no such namespace, no permission) are thrown here.
 */
export function connectSocket(options: ConnectOptions, onConnect?: () => void): Socket {
  const family = familyOfIp(options.host, 'host');
  checkPort(options.port);
  if (options.localAddress !== undefined && familyOfIp(options.localAddress, 'localAddress') !== family) {
    throw new MeshError(
      'NATIVE_ERR_ARGS',
      `localAddress ${options.localAddress} is not IPv${family} like ${options.host}`,
    );
  }
  const socket = wrapFd(createSocketFd(family, options), options.allowHalfOpen === true);
  const connectOpts: {
    host: string;
    port: number;
    localAddress?: string;
    localPort?: number;
    noDelay: boolean;
  } = { host: options.host, port: options.port, noDelay: options.noDelay === true };
  if (options.localAddress !== undefined) connectOpts.localAddress = options.localAddress;
  if (options.localPort !== undefined) connectOpts.localPort = checkPort(options.localPort, 'localPort');
  return onConnect ? socket.connect(connectOpts, onConnect) : socket.connect(connectOpts);
}

/** connectSocket() with the socket created inside the network namespace at `netnsPath`. */
export function connectInNamespace(
  netnsPath: string,
  options: Omit<ConnectOptions, 'netns'>,
  onConnect?: () => void,
): Socket {
  return connectSocket({ ...options, netns: netnsPath }, onConnect);
}
