/**
 * Listening sockets created inside another network namespace (ztunnel's per-pod listeners in the
 * in-pod model) or with IP_TRANSPARENT / SO_MARK. The addon creates, binds and listens; Node adopts
 * the descriptor with `server.listen({ fd })`.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { nativeError, requireNative } from './binding.js';
import { createSocketFd, type SocketOptions } from './connect.js';
import { anyAddress, checkPort, familyOfIp, type IpFamily } from './options.js';

export interface ListenOptions extends Omit<SocketOptions, 'netns'> {
  /** Address to bind (an IP literal); default the wildcard of `family`. */
  host?: string;
  /** Default 4; ignored when `host` is given. */
  family?: IpFamily;
  port: number;
  /** Default 511, as Node. */
  backlog?: number;
  /** For IPv6: accept IPv6 only (default false: dual-stack, as Node). */
  ipv6Only?: boolean;
  /**
   * SO_REUSEPORT: another socket with the option may listen on the same address (a restarting
   * ztunnel takes a pod's listeners over before the old process closes its own).
   */
  reusePort?: boolean;
}

/** A bound, listening socket descriptor made in `netnsPath` (undefined: this namespace). */
export function openListenerFd(netnsPath: string | undefined, options: ListenOptions): number {
  const family = options.host !== undefined ? familyOfIp(options.host, 'host') : (options.family ?? 4);
  const host = options.host ?? anyAddress(family);
  const port = checkPort(options.port);
  const socketOpts: SocketOptions = { ...options };
  if (netnsPath !== undefined) socketOpts.netns = netnsPath;
  const fd = createSocketFd(family, socketOpts);
  const native = requireNative();
  try {
    native.bindListen(
      fd,
      host,
      port,
      options.backlog ?? 511,
      options.ipv6Only === true,
      options.reusePort === true,
    );
  } catch (err) {
    native.close(fd);
    const code = (err as { code?: unknown }).code;
    const hint =
      code === 'EADDRNOTAVAIL'
        ? 'the address is not on any interface of that namespace (use transparent: true for a foreign address)'
        : code === 'EADDRINUSE'
          ? 'something already listens there'
          : '';
    const where = netnsPath ? ` in ${netnsPath}` : '';
    throw nativeError(`listening on ${family === 6 ? `[${host}]` : host}:${port}${where}`, err, hint);
  }
  return fd;
}

/**
 * A net.Server listening inside the network namespace at `netnsPath`. Resolves once it listens;
 * `server.address()` tells the port when 0 was asked. Pass a server to reuse its handlers.
 */
export function listenInNamespace(
  netnsPath: string | undefined,
  options: ListenOptions,
  serverOrListener?: Server | ((socket: Socket) => void),
): Promise<Server> {
  let server: Server;
  if (serverOrListener === undefined) server = createServer();
  else if (typeof serverOrListener === 'function') server = createServer(serverOrListener);
  else server = serverOrListener;
  let fd: number;
  try {
    fd = openListenerFd(netnsPath, options);
  } catch (err) {
    return Promise.reject(err);
  }
  return new Promise<Server>((resolve, reject) => {
    const onError = (err: Error): void => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve(server);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    try {
      server.listen({ fd, backlog: options.backlog ?? 511 });
    } catch (err) {
      requireNative().close(fd);
      server.off('error', onError);
      server.off('listening', onListening);
      reject(err);
    }
  });
}
