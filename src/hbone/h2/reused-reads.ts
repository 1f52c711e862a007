import net from 'node:net';
import type { TLSSocket } from 'node:tls';

type ReadCb = (n: number, buf: Buffer) => void;

/**
 * The symbols under which a `net.Socket` keeps its `onread` buffer and callback, found on a probe
 * socket made with that option (Node has no public way to give an accepted socket an `onread`).
 */
function onreadSymbols(): { buffer: symbol; callback: symbol; gen: symbol | undefined } | undefined {
  try {
    const probe = new net.Socket({ onread: { buffer: Buffer.alloc(1), callback: () => true } });
    const syms = Object.getOwnPropertySymbols(probe);
    const find = (name: string): symbol | undefined => syms.find((s) => s.description === name);
    const buffer = find('kBuffer');
    const callback = find('kBufferCb');
    probe.destroy();
    return buffer && callback ? { buffer, callback, gen: find('kBufferGen') } : undefined;
  } catch {
    return undefined;
  }
}

const SYMS = onreadSymbols();

/**
 * Makes an accepted TLS socket read its cleartext into one reused buffer and hand it to `cb`, as
 * `tls.connect({ onread })` does for a client socket: otherwise Node gives every TLS read a fresh
 * 64 KiB ArrayBuffer whatever its size, and that external memory drove frequent full GCs on the HBONE
 * server (one per ~50 ms at 10k messages/s). What was already read and buffered goes to `cb` first.
 * Returns false (and changes nothing) when this Node does not have the pieces; the caller then
 * listens to 'data'.
 */
export function readIntoReusedBuffer(sock: TLSSocket, size: number, cb: ReadCb): boolean {
  const handle = (sock as TLSSocket & { _handle?: { useUserBuffer?: (b: Buffer) => void } })._handle;
  if (!SYMS || !handle || typeof handle.useUserBuffer !== 'function') return false;
  let early: Buffer | null;
  while ((early = sock.read() as Buffer | null) !== null) cb(early.length, early);
  const buf = Buffer.allocUnsafe(size);
  const target = sock as unknown as Record<symbol, unknown>;
  target[SYMS.buffer] = buf;
  target[SYMS.callback] = cb;
  if (SYMS.gen) target[SYMS.gen] = null;
  handle.useUserBuffer(buf);
  return true;
}
