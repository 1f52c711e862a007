/**
 * The node agent's side of the capture protocol (src/ztunnel/capture/protocol.ts): one connection to
 * the node's ztunnel socket, one message at a time, each answered by ztunnel's ack line
 * (`{"ok":true}` or `{"ok":false,"error":...}`). On every new connection the agent sends its whole
 * snapshot (each enrolled pod, then `snapshot-done`). A new ztunnel (restart, DaemonSet rollout)
 * replaces the socket file: the agent notices (the socket's inode changed, or the connection closed)
 * and connects to it, sending the snapshot again.
 */
import net from 'node:net';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Logger } from '../common/logger.js';
import type { CaptureMessage } from '../ztunnel/capture/protocol.js';

const ACK_TIMEOUT_MS = 5_000;

export class ZtunnelClient {
  private conn: net.Socket | undefined;
  private inode = 0;
  private pending: Array<{ resolve: (e?: string) => void; timer: NodeJS.Timeout }> = [];
  private chain: Promise<unknown> = Promise.resolve();
  private poll: NodeJS.Timeout | undefined;
  private backoffMs = 100;
  private stopped = false;
  private connecting = false;
  /** Connected (the snapshot is sent from here). */
  onConnect: () => Promise<void> = async () => undefined;

  constructor(
    private readonly path: string,
    private readonly log: Logger,
  ) {}

  get connected(): boolean {
    return !!this.conn && !this.conn.destroyed;
  }

  start(): void {
    this.poll = setInterval(() => void this.check(), 1000);
    void this.check();
  }

  /** Connects when not connected, or when the socket file is a new one (a new ztunnel listens). */
  private async check(): Promise<void> {
    if (this.stopped || this.connecting) return;
    const s = await stat(this.path).catch(() => undefined);
    if (!s) return;
    if (this.connected && s.ino === this.inode) return;
    this.connecting = true;
    try {
      await this.connect(s.ino);
    } catch (err) {
      this.log.warn({ socket: this.path, err: (err as Error).message }, 'ztunnel socket: connect failed');
      await new Promise((r) => setTimeout(r, this.backoffMs));
      this.backoffMs = Math.min(this.backoffMs * 2, 2000);
    } finally {
      this.connecting = false;
    }
  }

  private async connect(ino: number): Promise<void> {
    const conn = net.connect(this.path);
    await new Promise<void>((resolve, reject) => {
      conn.once('connect', resolve);
      conn.once('error', reject);
    });
    conn.on('error', () => undefined);
    const old = this.conn;
    this.conn = conn;
    this.inode = ino;
    this.backoffMs = 100;
    old?.destroy();
    this.failPending('a new ztunnel connection replaced this one');
    createInterface({ input: conn }).on('line', (line) => {
      const p = this.pending.shift();
      if (!p) return;
      clearTimeout(p.timer);
      try {
        const ack = JSON.parse(line) as { ok?: boolean; error?: string };
        p.resolve(ack.ok ? undefined : (ack.error ?? 'ztunnel refused the message'));
      } catch {
        p.resolve(`not an ack: ${line.slice(0, 100)}`);
      }
    });
    conn.on('close', () => {
      if (this.conn !== conn) return;
      this.conn = undefined;
      this.failPending('ztunnel closed the connection');
      this.log.info({ socket: this.path }, 'ztunnel socket: connection closed; waiting for a ztunnel');
    });
    this.log.info({ socket: this.path }, 'ztunnel socket: connected; sending the snapshot');
    await this.onConnect();
  }

  private failPending(why: string): void {
    for (const p of this.pending.splice(0)) {
      clearTimeout(p.timer);
      p.resolve(why);
    }
  }

  /**
   * Sends one message and waits for its ack (one in flight at a time); resolves to undefined on ack,
   * or to the reason it was not acked (no ztunnel, refusal, timeout).
   */
  send(m: CaptureMessage): Promise<string | undefined> {
    const run = (): Promise<string | undefined> =>
      new Promise((resolve) => {
        const conn = this.conn;
        if (!conn || conn.destroyed) return resolve('no ztunnel connection');
        const timer = setTimeout(() => {
          const i = this.pending.findIndex((p) => p.timer === timer);
          if (i >= 0) this.pending.splice(i, 1);
          resolve(`no ack within ${ACK_TIMEOUT_MS} ms`);
        }, ACK_TIMEOUT_MS);
        this.pending.push({ resolve, timer });
        conn.write(`${JSON.stringify(m)}\n`);
      });
    const next = this.chain.then(run, run);
    this.chain = next;
    return next;
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.poll);
    this.conn?.destroy();
    this.failPending('stopping');
  }
}
