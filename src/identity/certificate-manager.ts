/**
 * The node proxy's certificates: one per identity, shared by every pod of that identity on the node.
 * Fetched lazily on first use (`get`) or ahead of time when a workload appears (`prewarm`), renewed at
 * half-life, retried with backoff while the current certificate is still valid, at most `concurrency`
 * fetches at once with waiting connections first. Each identity has a CertSource: a renewal installs a
 * new Credentials object, so new connections use the new certificate and open ones are not touched.
 * Roots from the CA (and from the published bundle) go into one TrustBundle; during a CA rotation old
 * and new roots are both trusted.
 */
import { X509Certificate } from 'node:crypto';
import { Counter, Gauge, type Registry } from 'prom-client';
import { MeshError, errorMessage } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { silentLogger } from '../common/logger.js';
import { CertSlot, Credentials, type CertSource } from '../hbone/credentials.js';
import { spiffeUri, type SpiffeId } from '../pki/spiffe.js';
import { DEFAULT_BACKOFF, backoffDelay, type BackoffPolicy } from './backoff.js';
import type { CertificateFetcher, IssuedCertificate } from './ca-client.js';
import { FetchQueue, type QueuedTask } from './fetch-queue.js';
import { TrustBundle } from './trust-bundle.js';

export interface CertificateManagerOptions {
  fetcher: CertificateFetcher;
  /** Shared trust bundle; default a new one holding `roots`. */
  trustBundle?: TrustBundle;
  roots?: string[];
  /** Fetches at once; default 8. */
  concurrency?: number;
  /** Renew when this fraction of the lifetime has passed; default 0.5. */
  renewFraction?: number;
  backoff?: Partial<BackoffPolicy>;
  logger?: Logger;
  registry?: Registry;
  random?: () => number;
}

export type IdentityState = 'fetching' | 'ready' | 'retrying' | 'failed';

export interface IdentityStatus {
  uri: string;
  state: IdentityState;
  serial?: string;
  notBefore?: Date;
  notAfter?: Date;
  /** When the next renewal or retry is due. */
  nextAttempt?: Date;
  failures: number;
  lastError?: string;
}

class Entry {
  readonly id: SpiffeId;
  readonly uri: string;
  slot: CertSlot | undefined;
  issued: IssuedCertificate | undefined;
  serial = '';
  notBefore = 0;
  notAfter = 0;
  task: QueuedTask<Credentials> | undefined;
  timer: NodeJS.Timeout | undefined;
  nextAttempt = 0;
  failures = 0;
  lastError: string | undefined;
  forgotten = false;

  constructor(id: SpiffeId, uri: string) {
    this.id = id;
    this.uri = uri;
  }
}

const MAX_TIMER_MS = 2 ** 31 - 1;

function noop(): void {}

/** The chain a proxy presents: without the self-signed root at the end (peers have it). */
function presented(chain: readonly string[]): string[] {
  if (chain.length < 2) return [...chain];
  const last = new X509Certificate(chain[chain.length - 1] as string);
  return last.checkIssued(last) ? chain.slice(0, -1) : [...chain];
}

export class CertificateManager {
  readonly trustBundle: TrustBundle;
  private readonly fetcher: CertificateFetcher;
  private readonly entries = new Map<string, Entry>();
  private readonly queue: FetchQueue;
  private readonly renewFraction: number;
  private readonly backoff: BackoffPolicy;
  private readonly random: () => number;
  private readonly log: Logger;
  private readonly unsubscribe: () => void;
  private readonly fetches: Counter<'result'> | undefined;
  private closed = false;

  constructor(opts: CertificateManagerOptions) {
    this.fetcher = opts.fetcher;
    this.trustBundle = opts.trustBundle ?? new TrustBundle(opts.roots ?? []);
    this.queue = new FetchQueue(opts.concurrency ?? 8);
    this.renewFraction = opts.renewFraction ?? 0.5;
    this.backoff = { ...DEFAULT_BACKOFF, ...opts.backoff };
    this.random = opts.random ?? Math.random;
    this.log = opts.logger ?? silentLogger();
    this.unsubscribe = this.trustBundle.onChange(() => this.reinstallAll());
    if (opts.registry) {
      const registers = [opts.registry];
      this.fetches = new Counter({
        name: 'identity_certificate_fetches_total',
        help: 'Workload certificate requests to the CA, by result',
        labelNames: ['result'],
        registers,
      });
      const entries = this.entries;
      const queue = this.queue;
      new Gauge({
        name: 'identity_certificates',
        help: 'Identities whose certificate this proxy manages',
        registers,
        collect() {
          this.set(entries.size);
        },
      });
      new Gauge({
        name: 'identity_certificate_fetches_queued',
        help: 'Certificate requests waiting for a free fetch slot',
        registers,
        collect() {
          this.set(queue.pending);
        },
      });
    }
  }

  /** The current credentials of `id`, fetching them first if there are none (or they expired). */
  get(id: SpiffeId): Promise<Credentials> {
    if (this.closed)
      return Promise.reject(new MeshError('CA_ERR_CLOSED', 'the certificate manager is closed'));
    const e = this.entry(id);
    if (e.slot && Date.now() < e.notAfter) return Promise.resolve(e.slot.current());
    return this.fetch(e, true);
  }

  /** The replaceable credentials of `id` (for an HBONE server or pool); waits for the first certificate. */
  async source(id: SpiffeId): Promise<CertSource> {
    await this.get(id);
    const slot = this.entries.get(spiffeUri(id))?.slot;
    if (!slot)
      throw new MeshError(
        'CA_ERR_FORGOTTEN',
        `${spiffeUri(id)} was forgotten while its certificate was fetched`,
      );
    return slot;
  }

  /** Starts fetching `id` in the background (a workload of that identity appeared on the node). */
  prewarm(id: SpiffeId): void {
    if (this.closed) return;
    const e = this.entry(id);
    if (e.slot || e.task || e.timer) return;
    this.fetch(e, false).catch(noop);
  }

  /** Drops `id` (no workload of it remains): no more renewals; open connections are untouched. */
  forget(id: SpiffeId): void {
    const uri = spiffeUri(id);
    const e = this.entries.get(uri);
    if (!e) return;
    e.forgotten = true;
    clearTimeout(e.timer);
    this.entries.delete(uri);
  }

  has(id: SpiffeId): boolean {
    return this.entries.has(spiffeUri(id));
  }

  status(): IdentityStatus[] {
    const now = Date.now();
    return [...this.entries.values()].map((e) => {
      const valid = e.slot !== undefined && now < e.notAfter;
      const state: IdentityState =
        e.task && !valid
          ? 'fetching'
          : e.failures > 0
            ? valid
              ? 'retrying'
              : 'failed'
            : valid
              ? 'ready'
              : 'fetching';
      const s: IdentityStatus = { uri: e.uri, state, failures: e.failures };
      if (e.slot) {
        s.serial = e.serial;
        s.notBefore = new Date(e.notBefore);
        s.notAfter = new Date(e.notAfter);
      }
      if (e.nextAttempt) s.nextAttempt = new Date(e.nextAttempt);
      if (e.lastError) s.lastError = e.lastError;
      return s;
    });
  }

  close(): void {
    this.closed = true;
    for (const e of this.entries.values()) clearTimeout(e.timer);
    this.entries.clear();
    this.unsubscribe();
  }

  private entry(id: SpiffeId): Entry {
    const uri = spiffeUri(id);
    let e = this.entries.get(uri);
    if (!e) this.entries.set(uri, (e = new Entry(id, uri)));
    return e;
  }

  private fetch(e: Entry, urgent: boolean): Promise<Credentials> {
    if (e.task) {
      if (urgent) e.task.promote();
      return e.task.promise;
    }
    const task = this.queue.submit(() => this.fetcher.fetch(e.id), urgent);
    const promise = task.promise.then(
      (issued) => this.onIssued(e, issued),
      (err: unknown) => this.onFailed(e, err),
    );
    e.task = { promise, promote: task.promote };
    return promise;
  }

  private onIssued(e: Entry, issued: IssuedCertificate): Credentials {
    e.task = undefined;
    const leaf = new X509Certificate(issued.chainPem[0] as string);
    const root = issued.chainPem[issued.chainPem.length - 1] as string;
    e.issued = issued;
    e.serial = leaf.serialNumber;
    e.notBefore = Date.parse(leaf.validFrom);
    e.notAfter = Date.parse(leaf.validTo);
    e.failures = 0;
    e.lastError = undefined;
    this.fetches?.inc({ result: 'ok' });
    if (e.forgotten || this.closed) return this.credentialsOf(issued);
    // A root not seen before (a rotated CA) is trusted from now on, together with the old ones; adding it
    // re-installs every identity's credentials, this one included.
    if (!this.trustBundle.add(root)) this.install(e);
    const renewAt = e.notBefore + (e.notAfter - e.notBefore) * this.renewFraction;
    this.schedule(e, renewAt);
    this.log.debug(
      { id: e.uri, serial: e.serial, notAfter: leaf.validTo },
      'identity: certificate installed',
    );
    return (e.slot as CertSlot).current();
  }

  private onFailed(e: Entry, err: unknown): never {
    e.task = undefined;
    e.failures++;
    e.lastError = errorMessage(err);
    this.fetches?.inc({ result: 'error' });
    if (!e.forgotten && !this.closed) {
      const delay = backoffDelay(e.failures, this.backoff, this.random);
      this.schedule(e, Date.now() + delay);
      const valid = e.slot !== undefined && Date.now() < e.notAfter;
      this.log.warn(
        {
          id: e.uri,
          failures: e.failures,
          retryInMs: delay,
          currentValidUntil: valid ? new Date(e.notAfter).toISOString() : null,
        },
        `identity: certificate request failed: ${e.lastError}`,
      );
    }
    throw err instanceof MeshError
      ? err
      : new MeshError('CA_ERR_FETCH', `certificate request for ${e.uri} failed: ${e.lastError}`, {
          cause: err,
        });
  }

  private schedule(e: Entry, at: number): void {
    clearTimeout(e.timer);
    e.nextAttempt = at;
    const delay = Math.max(0, at - Date.now());
    e.timer = setTimeout(
      () => {
        e.timer = undefined;
        if (e.forgotten || this.closed) return;
        if (Date.now() < at) return this.schedule(e, at);
        e.nextAttempt = 0;
        this.fetch(e, false).catch(noop);
      },
      Math.min(delay, MAX_TIMER_MS),
    );
    e.timer.unref();
  }

  private credentialsOf(issued: IssuedCertificate): Credentials {
    return new Credentials(issued.keyPem, presented(issued.chainPem), this.trustBundle.roots());
  }

  private install(e: Entry): void {
    if (!e.issued) return;
    const creds = this.credentialsOf(e.issued);
    if (e.slot) e.slot.set(creds);
    else e.slot = new CertSlot(creds);
  }

  private reinstallAll(): void {
    for (const e of this.entries.values()) this.install(e);
  }
}
