/**
 * Key sets for JWT verification: inline `jwks` compiled once per push, and `jwksUri` fetched by the
 * proxy, cached and refreshed (default every 20 min; after a failure, retried every minute). Until a
 * fetch has succeeded the key set is missing and every token for that issuer is rejected (fail
 * closed), with one warning per failed fetch, never per request.
 */
import { createLocalJWKSet, importJWK, type JSONWebKeySet, type JWK, type JWTVerifyGetKey } from 'jose';
import { errorMessage } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';

/** Istio's accepted algorithms (jwt_authn): RS/PS/ES 256/384/512, HS 256/384/512, EdDSA. */
export const JWT_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'HS256',
  'HS384',
  'HS512',
  'EdDSA',
  'Ed25519',
];

/** A key getter over a JWKS, including symmetric (`oct`) keys for HS*, which jose's local set leaves out. */
export function keyGetter(jwks: JSONWebKeySet): JWTVerifyGetKey {
  const local = createLocalJWKSet(jwks);
  const secrets = jwks.keys.filter((k) => k.kty === 'oct');
  if (secrets.length === 0) return local;
  return async (header, token) => {
    const alg = header.alg ?? '';
    if (!alg.startsWith('HS')) return local(header, token);
    const k = secrets.find(
      (s) => (header.kid === undefined || s.kid === header.kid) && (!s.alg || s.alg === alg),
    );
    if (!k) throw Object.assign(new Error('no matching key'), { code: 'ERR_JWKS_NO_MATCHING_KEY' });
    return importJWK(k as JWK, alg);
  };
}

/** Parses inline JWKS text; throws with a message naming what is wrong. */
export function parseJwks(text: string): JSONWebKeySet {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new Error(`jwks is not JSON: ${errorMessage(err)}`);
  }
  const keys = (v as { keys?: unknown }).keys;
  if (
    !Array.isArray(keys) ||
    keys.some((k) => typeof k !== 'object' || k === null || typeof k.kty !== 'string')
  )
    throw new Error('jwks must be {"keys": [...]} with a "kty" on every key');
  return v as JSONWebKeySet;
}

interface Entry {
  uri: string;
  timeoutMs: number;
  getter: JWTVerifyGetKey | undefined;
  fetching: Promise<void> | undefined;
  timer: NodeJS.Timeout | undefined;
  lastError: string | undefined;
  fetchedAt: number;
}

export interface JwksCacheOptions {
  log: Logger;
  refreshMs?: number;
  retryMs?: number;
  /** Largest JWKS document accepted. */
  maxBytes?: number;
}

export class JwksCache {
  private readonly entries = new Map<string, Entry>();
  private readonly refreshMs: number;
  private readonly retryMs: number;
  private readonly maxBytes: number;

  constructor(private readonly o: JwksCacheOptions) {
    this.refreshMs = o.refreshMs ?? 20 * 60_000;
    this.retryMs = o.retryMs ?? 60_000;
    this.maxBytes = o.maxBytes ?? 1024 * 1024;
  }

  /** Keeps these URIs (fetching new ones now), forgets the rest. Called once per push. */
  retain(uris: Map<string, number>): void {
    for (const [uri, e] of this.entries) {
      if (!uris.has(uri)) {
        if (e.timer) clearTimeout(e.timer);
        this.entries.delete(uri);
      }
    }
    for (const [uri, timeoutMs] of uris) {
      if (this.entries.has(uri)) continue;
      const e: Entry = {
        uri,
        timeoutMs,
        getter: undefined,
        fetching: undefined,
        timer: undefined,
        lastError: undefined,
        fetchedAt: 0,
      };
      this.entries.set(uri, e);
      this.fetch(e);
    }
  }

  /** The key getter for a URI; waits for a fetch in progress; undefined when it cannot be had (fail closed). */
  async get(uri: string): Promise<JWTVerifyGetKey | undefined> {
    const e = this.entries.get(uri);
    if (!e) return undefined;
    if (e.getter) return e.getter;
    if (e.fetching) await e.fetching;
    return e.getter;
  }

  /** What each URI's state is, for debug views. */
  status(): Array<{ uri: string; ok: boolean; fetchedAt?: string; error?: string }> {
    return [...this.entries.values()].map((e) => ({
      uri: e.uri,
      ok: e.getter !== undefined,
      fetchedAt: e.fetchedAt ? new Date(e.fetchedAt).toISOString() : undefined,
      error: e.lastError,
    }));
  }

  close(): void {
    for (const e of this.entries.values()) if (e.timer) clearTimeout(e.timer);
    this.entries.clear();
  }

  private fetch(e: Entry): void {
    e.fetching = this.load(e).then(
      (jwks) => {
        e.getter = keyGetter(jwks);
        e.lastError = undefined;
        e.fetchedAt = Date.now();
        this.schedule(e, this.refreshMs);
      },
      (err: unknown) => {
        e.lastError = errorMessage(err);
        this.o.log.warn(
          {
            jwksUri: e.uri,
            err: e.lastError,
            retryInMs: this.retryMs,
            keptPreviousKeys: e.getter !== undefined,
          },
          'jwt: fetching the JWKS failed; tokens of this issuer are rejected until it succeeds (check the URI and that the proxy can reach it)',
        );
        this.schedule(e, this.retryMs);
      },
    );
    void e.fetching.finally(() => (e.fetching = undefined));
  }

  private schedule(e: Entry, ms: number): void {
    if (this.entries.get(e.uri) !== e) return;
    e.timer = setTimeout(() => this.fetch(e), ms);
    e.timer.unref();
  }

  private async load(e: Entry): Promise<JSONWebKeySet> {
    const res = await fetch(e.uri, { signal: AbortSignal.timeout(e.timeoutMs), redirect: 'follow' });
    if (res.status !== 200) throw new Error(`HTTP ${res.status} from ${e.uri}`);
    const text = await res.text();
    if (text.length > this.maxBytes) throw new Error(`JWKS larger than ${this.maxBytes} bytes`);
    return parseJwks(text);
  }
}
