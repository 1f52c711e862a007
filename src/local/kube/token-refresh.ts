/**
 * The kubelet role's refresh of projected service-account tokens. A token in a projected volume has
 * an expiry (`expirationSeconds`, 12 h for Istio's `istio-token`); the kubelet asks the API server
 * for a new one once the current one is 80 % through its life, or 24 h old, and replaces the file,
 * so a proxy that reads its token file for every CA call (ztunnel, waypoint, gateway, sidecar) keeps
 * getting certificates however long the pod runs. The file is replaced by rename: a reader sees the
 * old token or the new one, never half of one. A refresh the API server refuses is retried every
 * RETRY_MS (the old token stays until it expires).
 */
import { rename, writeFile } from 'node:fs/promises';

/** One token file of a pod's projected volume. */
export interface ProjectedToken {
  file: string;
  audience: string | undefined;
  /** The lifetime asked for (`expirationSeconds`). */
  seconds: number;
  /** When the current token was written. */
  issuedAtMs: number;
}

export const RETRY_MS = 10_000;
const DAY_MS = 24 * 3600 * 1000;

/** How long after issue a token is replaced: at 80 % of its lifetime, and at least once a day. */
export function refreshAfterMs(seconds: number): number {
  return Math.min(Math.floor(seconds * 1000 * 0.8), DAY_MS);
}

/** Writes a token file so that readers see the whole old or the whole new token (owner-only). */
export async function writeTokenFile(file: string, token: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, token, { mode: 0o600 });
  await rename(tmp, file);
}

export interface TokenRefresherDeps {
  /** A new token for this file's audience and lifetime (TokenRequest bound to the pod). */
  fetch: (t: ProjectedToken) => Promise<string>;
  write?: (file: string, token: string) => Promise<void>;
  log: (line: string) => void;
  now?: () => number;
  /** Timers (tests give their own); the callback's result is the refresh's promise. */
  setTimer?: (fn: () => unknown, ms: number) => unknown;
  clearTimer?: (timer: unknown) => void;
}

export class TokenRefresher {
  private readonly timers = new Map<ProjectedToken, unknown>();
  private stopped = false;
  private readonly now: () => number;
  private readonly setTimer: (fn: () => unknown, ms: number) => unknown;
  private readonly clearTimer: (timer: unknown) => void;
  private readonly write: (file: string, token: string) => Promise<void>;

  constructor(
    readonly tokens: readonly ProjectedToken[],
    private readonly deps: TokenRefresherDeps,
  ) {
    this.now = deps.now ?? Date.now;
    this.setTimer =
      deps.setTimer ??
      ((fn, ms) => {
        const t = setTimeout(fn, ms);
        t.unref();
        return t;
      });
    this.clearTimer = deps.clearTimer ?? ((t) => clearTimeout(t as NodeJS.Timeout));
    this.write = deps.write ?? writeTokenFile;
  }

  start(): void {
    for (const t of this.tokens) this.schedule(t, t.issuedAtMs + refreshAfterMs(t.seconds) - this.now());
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers.values()) this.clearTimer(timer);
    this.timers.clear();
  }

  /** Replaces one token now; true when it was replaced (else it is retried after RETRY_MS). */
  async refresh(t: ProjectedToken): Promise<boolean> {
    this.timers.delete(t);
    if (this.stopped) return false;
    try {
      const token = await this.deps.fetch(t);
      if (this.stopped) return false;
      await this.write(t.file, token);
      t.issuedAtMs = this.now();
      this.schedule(t, refreshAfterMs(t.seconds));
      return true;
    } catch (err) {
      this.deps.log(
        `token ${t.file}: refresh failed (${(err as Error).message}); retrying in ${RETRY_MS / 1000} s, the current token stays until it expires`,
      );
      this.schedule(t, RETRY_MS);
      return false;
    }
  }

  private schedule(t: ProjectedToken, inMs: number): void {
    if (this.stopped) return;
    this.timers.set(
      t,
      this.setTimer(() => this.refresh(t), Math.max(0, inMs)),
    );
  }
}
