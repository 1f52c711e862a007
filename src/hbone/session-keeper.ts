/** What the keeper needs of a session: node's KeptSession and our H2Session both have it. */
export interface KeptSession {
  readonly closed: boolean;
  readonly destroyed: boolean;
  ping(cb: (err: Error | null) => void): boolean;
  once(event: 'close', fn: () => void): unknown;
  close(): void;
  destroy(): void;
}

/**
 * Keeps a set of HTTP/2 sessions healthy with one shared coarse timer (not one per session):
 * - keepalive: a PING every `intervalMs`; a session whose PING is unanswered after `timeoutMs` is
 *   destroyed (the peer or the path is gone);
 * - idle: a session with no open stream for `idleMs` is handed to `onIdle` (which closes it).
 * Sessions leave the set when they close.
 */
export interface KeeperOptions<S extends KeptSession = KeptSession> {
  intervalMs: number;
  timeoutMs: number;
  idleMs: number;
  onIdle: (session: S) => void;
  onDead: (session: S) => void;
}

interface Entry {
  pingSentAt: number;
  lastPingAt: number;
  idleSince: number;
}

export class SessionKeeper<S extends KeptSession = KeptSession> {
  private readonly sessions = new Map<S, Entry>();
  private readonly opts: KeeperOptions<S>;
  private timer: NodeJS.Timeout | undefined;
  private readonly tickMs: number;

  constructor(opts: KeeperOptions<S>) {
    this.opts = opts;
    // Coarse: a quarter of the smallest period, at least 50 ms.
    this.tickMs = Math.max(50, Math.floor(Math.min(opts.intervalMs, opts.timeoutMs, opts.idleMs) / 4));
    this.tick = this.tick.bind(this);
  }

  get size(): number {
    return this.sessions.size;
  }

  add(session: S): void {
    const now = Date.now();
    this.sessions.set(session, { pingSentAt: 0, lastPingAt: now, idleSince: now });
    session.once('close', () => this.sessions.delete(session));
    if (!this.timer) {
      this.timer = setInterval(this.tick, this.tickMs);
      this.timer.unref();
    }
  }

  /** Marks a session busy (a stream opened) or idle since now (its last stream closed). */
  setIdle(session: S, idle: boolean): void {
    const e = this.sessions.get(session);
    if (e) e.idleSince = idle ? Date.now() : 0;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.sessions.clear();
  }

  private tick(): void {
    const now = Date.now();
    for (const [session, e] of this.sessions) {
      if (session.destroyed || session.closed) continue;
      if (e.pingSentAt !== 0) {
        if (now - e.pingSentAt > this.opts.timeoutMs) this.opts.onDead(session);
      } else if (now - e.lastPingAt >= this.opts.intervalMs) {
        e.pingSentAt = now;
        const ok = session.ping((err) => {
          e.pingSentAt = 0;
          e.lastPingAt = Date.now();
          if (err && !session.destroyed) this.opts.onDead(session);
        });
        if (!ok) e.pingSentAt = 0;
      }
      if (e.idleSince !== 0 && now - e.idleSince >= this.opts.idleMs) {
        e.idleSince = 0;
        this.opts.onIdle(session);
      }
    }
    if (this.sessions.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
