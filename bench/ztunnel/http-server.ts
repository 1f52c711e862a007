/**
 * The benchmark's HTTP/1.1 server (a child process): answers every request with 200 and a 1 KiB body,
 * keeps the connection unless the request said `Connection: close`. Listens on 127.0.0.1 (a free port,
 * for direct and haproxy) and on each `ip:port` given as an argument (the server pods behind ztunnel).
 * Usage (forked by the runner): http-server.js [ip:port ...]. Reports the 127.0.0.1 port when ready.
 */
import net, { type AddressInfo } from 'node:net';
import { onStop } from '../hbone/child.js';
import { MessageSplitter, RESPONSE, RESPONSE_CLOSE } from './http1.js';

function serve(sock: net.Socket): void {
  const parser = new MessageSplitter();
  sock.setNoDelay(true);
  sock.on('error', ignore);
  sock.on('data', (chunk: Buffer) => {
    const n = parser.push(chunk);
    if (n === 0) return;
    if (parser.closeAsked) {
      sock.end(RESPONSE_CLOSE);
      return;
    }
    for (let i = 0; i < n; i++) sock.write(RESPONSE);
  });
  sock.on('end', () => sock.end());
}

function ignore(): void {}

function listen(host: string, port: number): Promise<net.Server> {
  const srv = net.createServer({ noDelay: true }, serve);
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen({ host, port, backlog: 4096 }, () => resolve(srv));
  });
}

const servers = [await listen('127.0.0.1', 0)];
for (const arg of process.argv.slice(2)) {
  const i = arg.lastIndexOf(':');
  servers.push(await listen(arg.slice(0, i), Number(arg.slice(i + 1))));
}
process.send?.({ type: 'ready', port: (servers[0]!.address() as AddressInfo).port });
onStop(() => servers.forEach((s) => s.close()));
