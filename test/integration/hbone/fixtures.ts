import net from 'node:net';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import {
  createRootCa,
  createIntermediateCa,
  issueWorkloadCertificate,
  type CertificateAuthority,
} from '../../../src/pki/ca.js';
import { Credentials } from '../../../src/hbone/credentials.js';

/** A test mesh PKI: a root, an intermediate that signs workloads, and workload credentials on demand. */
export class TestPki {
  readonly root: CertificateAuthority;
  readonly issuer: CertificateAuthority;
  readonly trustDomain: string;

  constructor(trustDomain = 'cluster.local') {
    this.trustDomain = trustDomain;
    this.root = createRootCa({ commonName: `test root ${trustDomain}` });
    this.issuer = createIntermediateCa(this.root, { commonName: `test intermediate ${trustDomain}` });
  }

  credentials(
    namespace: string,
    serviceAccount: string,
    opts: { validityMs?: number; notBefore?: Date; trustDomain?: string } = {},
  ): Credentials {
    const w = issueWorkloadCertificate(
      this.issuer,
      { trustDomain: opts.trustDomain ?? this.trustDomain, namespace, serviceAccount },
      { validityMs: opts.validityMs, notBefore: opts.notBefore },
    );
    // Present leaf + intermediate; peers trust the root.
    return new Credentials(w.keyPem, w.chainPem.slice(0, -1), [this.root.rootPem]);
  }
}

export function uri(ns: string, sa: string, td = 'cluster.local'): string {
  return `spiffe://${td}/ns/${ns}/sa/${sa}`;
}

/** A logger whose JSON lines are kept for assertions. */
export function captureLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n'))
        if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), lines };
}

/** A TCP echo server on loopback (echoes, honours half-close). */
export async function echoServer(): Promise<{ port: number; server: net.Server; sockets: Set<net.Socket> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.pipe(s);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as net.AddressInfo).port, server, sockets };
}

export function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (d: Buffer) => chunks.push(d));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Waits until `cond()` is true, polling; fails after `ms`. */
export async function until(cond: () => boolean, ms = 3000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
