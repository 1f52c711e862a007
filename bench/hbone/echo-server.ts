/**
 * The test server (a child process): request/response with fixed 1 KiB framing, a bulk sink, and an
 * echo for tiny round trips; the first byte of a connection picks the mode (see protocol.ts).
 * Usage (forked by the runner): echo-server.js. Reports its port with a `ready` message.
 */
import net, { type AddressInfo } from 'node:net';
import { MESSAGE_SIZE, Mode } from './protocol.js';
import { onStop } from './child.js';

/** Responses for up to 64 requests that arrived in one read, written as one buffer. */
const MAX_BATCH = 64;
const responses = Buffer.alloc(MESSAGE_SIZE * MAX_BATCH, 0x72);

class Conn {
  private readonly sock: net.Socket;
  private mode = 0;
  /** Request bytes received and not yet answered (request/response), or bytes sunk (sink). */
  private pending = 0;

  constructor(sock: net.Socket) {
    this.sock = sock;
    sock.setNoDelay(true);
    sock.on('error', ignore);
    sock.on('data', this.onData.bind(this));
    sock.on('end', this.onEnd.bind(this));
  }

  onData(chunk: Buffer): void {
    let n = chunk.length;
    if (this.mode === 0) {
      this.mode = chunk[0]!;
      n--;
      if (this.mode === Mode.Ping && n > 0) this.sock.write(chunk.subarray(1));
      if (n === 0) return;
      if (this.mode !== Mode.Ping) this.account(n);
      return;
    }
    if (this.mode === Mode.Ping) this.sock.write(chunk);
    else this.account(n);
  }

  private account(n: number): void {
    this.pending += n;
    if (this.mode !== Mode.RequestResponse) return;
    let due = Math.floor(this.pending / MESSAGE_SIZE);
    this.pending -= due * MESSAGE_SIZE;
    while (due > 0) {
      const k = Math.min(due, MAX_BATCH);
      this.sock.write(k === MAX_BATCH ? responses : responses.subarray(0, k * MESSAGE_SIZE));
      due -= k;
    }
  }

  onEnd(): void {
    if (this.mode === Mode.Sink) {
      const out = Buffer.alloc(8);
      out.writeBigUInt64BE(BigInt(this.pending));
      this.sock.end(out);
    } else {
      this.sock.end();
    }
  }
}

function ignore(): void {}

const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (s) => new Conn(s));
server.listen(0, '127.0.0.1', () => {
  process.send?.({ type: 'ready', port: (server.address() as AddressInfo).port });
});
onStop(() => server.close());
