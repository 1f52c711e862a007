/**
 * Wraps a net.Socket in a plain Duplex. node:http2 reads a net.Socket from its native handle, so bytes
 * that protocol detection read and put back (unshift) would be lost; through this wrapper they are not.
 * HBONE streams need no wrapping (they are already read through the stream API).
 */
import net from 'node:net';
import { Duplex } from 'node:stream';

export function readableThroughStreams(s: Duplex): Duplex {
  if (!(s instanceof net.Socket)) return s;
  const sock = s;
  const d = new Duplex({
    read() {
      sock.resume();
    },
    write(chunk, _enc, cb) {
      sock.write(chunk, cb);
    },
    final(cb) {
      sock.end(cb);
    },
    destroy(err, cb) {
      sock.destroy(err ?? undefined);
      cb(err);
    },
  });
  sock.on('data', (c: Buffer) => {
    if (!d.push(c)) sock.pause();
  });
  sock.once('end', () => d.push(null));
  sock.once('close', () => d.destroy());
  sock.on('error', (err) => d.destroy(err));
  return d;
}
