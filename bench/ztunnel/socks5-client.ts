/**
 * A minimal SOCKS5 client (RFC 1928, no authentication, CONNECT to an IPv4 address) as an application
 * in a loopback-mode pod uses ztunnel: it connects FROM its pod IP, so ztunnel knows the source workload.
 */
import net from 'node:net';

export interface Socks5Target {
  /** ztunnel's SOCKS5 listener (the node IP, port 15080). */
  proxy: { host: string; port: number };
  /** The client pod's IP. */
  localAddress: string;
  /** Where the tunnel should go. */
  dst: { ip: string; port: number };
}

const GREETING = Buffer.of(5, 1, 0);

function connectRequest(ip: string, port: number): Buffer {
  return Buffer.concat([
    Buffer.of(5, 1, 0, 1),
    Buffer.from(ip.split('.').map(Number)),
    Buffer.of(port >> 8, port & 0xff),
  ]);
}

/** Opens a connection through SOCKS5 and resolves once the proxy said the tunnel is up. */
export function socks5Connect(t: Socks5Target, timeoutMs = 5000): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({
      host: t.proxy.host,
      port: t.proxy.port,
      localAddress: t.localAddress,
      noDelay: true,
    });
    let got: Buffer = Buffer.alloc(0);
    let stage: 'method' | 'reply' = 'method';
    const timer = setTimeout(() => fail(new Error(`socks5: no answer within ${timeoutMs} ms`)), timeoutMs);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      s.destroy();
      reject(err);
    };
    const onData = (d: Buffer): void => {
      got = got.length ? Buffer.concat([got, d]) : d;
      if (stage === 'method') {
        if (got.length < 2) return;
        if (got[0] !== 5 || got[1] !== 0) return fail(new Error(`socks5: method refused [${[...got]}]`));
        got = got.subarray(2);
        stage = 'reply';
        s.write(connectRequest(t.dst.ip, t.dst.port));
      }
      if (got.length < 10) return;
      if (got[1] !== 0) return fail(new Error(`socks5: CONNECT failed with reply code ${got[1]}`));
      clearTimeout(timer);
      s.off('data', onData);
      s.off('error', fail);
      s.off('close', onClose);
      if (got.length > 10) s.unshift(got.subarray(10));
      resolve(s);
    };
    const onClose = (): void =>
      fail(new Error('socks5: the proxy closed the connection during the handshake'));
    s.on('data', onData);
    s.once('error', fail);
    s.once('close', onClose);
    s.once('connect', () => s.write(GREETING));
  });
}
