/**
 * Local-mode bootstrap tokens: the local cluster creates one token per node for its node proxy and
 * istiod keeps a file (mode 0600) of their SHA-256 digests → {node, identity of the node proxy, expiry}.
 * A caller presenting such a token is that node proxy, on that node.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { MeshError, errorMessage } from '../../common/errors.js';
import { writeFileAtomic } from '../../common/atomic-file.js';
import { parseSpiffeUri, spiffeUri, type SpiffeId } from '../../pki/spiffe.js';
import { unauthenticated } from './ca-denial.js';
import type { AuthnResult, TokenAuthenticator } from './token-authenticator.js';

export interface NodeTokenRecord {
  /** Hex SHA-256 of the token (the token itself is never stored on istiod's side). */
  tokenSha256: string;
  node: string;
  /** SPIFFE URI of the node proxy's account. */
  identity: string;
  /** ISO time after which the token is refused; absent = no expiry. */
  expiresAt?: string;
}

interface TokenFile {
  tokens: NodeTokenRecord[];
}

const fileVersion = (st: { ino: number; size: number; mtimeMs: number }): string =>
  `${st.ino}:${st.size}:${st.mtimeMs}`;

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** A fresh random token for `node`, and the record istiod keeps for it. */
export function createNodeToken(opts: { node: string; identity: SpiffeId; ttlMs?: number; now?: Date }): {
  token: string;
  record: NodeTokenRecord;
} {
  const token = `mesh-node.${randomBytes(32).toString('base64url')}`;
  const record: NodeTokenRecord = {
    tokenSha256: digest(token).toString('hex'),
    node: opts.node,
    identity: spiffeUri(opts.identity),
  };
  if (opts.ttlMs !== undefined)
    record.expiresAt = new Date((opts.now ?? new Date()).getTime() + opts.ttlMs).toISOString();
  return { token, record };
}

/** Writes a secret file atomically with mode 0600. */
export async function writeSecretFile(path: string, data: string): Promise<void> {
  await writeFileAtomic(path, data, 0o600);
}

export async function writeTokenFile(path: string, records: NodeTokenRecord[]): Promise<void> {
  await writeSecretFile(path, JSON.stringify({ tokens: records } satisfies TokenFile, null, 2) + '\n');
}

async function readRecords(path: string): Promise<NodeTokenRecord[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new MeshError(
      'CA_ERR_TOKEN_FILE',
      `cannot read the node token file ${path}: ${errorMessage(err)}`,
      { cause: err },
    );
  }
  let parsed: Partial<TokenFile>;
  try {
    parsed = JSON.parse(text) as Partial<TokenFile>;
  } catch (err) {
    throw new MeshError(
      'CA_ERR_TOKEN_FILE',
      `the node token file ${path} is not JSON: ${errorMessage(err)}`,
      { cause: err },
    );
  }
  if (!Array.isArray(parsed.tokens)) {
    throw new MeshError('CA_ERR_TOKEN_FILE', `the node token file ${path} has no "tokens" list`);
  }
  parsed.tokens.forEach((r, i) => {
    if (
      typeof r.tokenSha256 !== 'string' ||
      !/^[0-9a-f]{64}$/.test(r.tokenSha256) ||
      typeof r.node !== 'string' ||
      !r.node
    ) {
      throw new MeshError(
        'CA_ERR_TOKEN_FILE',
        `${path}: tokens[${i}] needs tokenSha256 (64 hex digits) and node`,
      );
    }
    if (typeof r.identity !== 'string' || !parseSpiffeUri(r.identity)) {
      throw new MeshError('CA_ERR_TOKEN_FILE', `${path}: tokens[${i}].identity is not a SPIFFE id`);
    }
    if (r.expiresAt !== undefined && Number.isNaN(Date.parse(r.expiresAt))) {
      throw new MeshError('CA_ERR_TOKEN_FILE', `${path}: tokens[${i}].expiresAt is not a date`);
    }
  });
  return parsed.tokens;
}

/**
 * Creates a token for `node` and adds its record to the file (replacing the node's earlier tokens).
 * Returns the token, to hand to that node's proxy (store it with mode 0600 too).
 */
export function addNodeToken(
  path: string,
  opts: { node: string; identity: SpiffeId; ttlMs?: number },
): Promise<string> {
  return serialized(path, async () => {
    const records = (await readRecords(path)).filter((r) => r.node !== opts.node);
    const { token, record } = createNodeToken(opts);
    records.push(record);
    await writeTokenFile(path, records);
    return token;
  });
}

/**
 * Removes the records of `node` (its proxy went away: a sidecar pod, a gateway or waypoint deployment),
 * so its token no longer authenticates. Returns how many were removed; a missing file removes none.
 */
export function removeNodeToken(path: string, node: string): Promise<number> {
  return serialized(path, async () => {
    const records = await readRecords(path);
    const kept = records.filter((r) => r.node !== node);
    if (kept.length !== records.length) await writeTokenFile(path, kept);
    return records.length - kept.length;
  });
}

/** Read-modify-write of one token file, one at a time within this process (pods are created in parallel). */
const queues = new Map<string, Promise<unknown>>();
function serialized<T>(path: string, work: () => Promise<T>): Promise<T> {
  const prev = queues.get(path) ?? Promise.resolve();
  const next = prev.then(work, work);
  const tail = next.catch(() => undefined);
  queues.set(path, tail);
  void tail.then(() => {
    if (queues.get(path) === tail) queues.delete(path);
  });
  return next;
}

/** Checks bearer tokens against the node token file; re-reads it when it changes (checked at most once a second). */
export class LocalTokenAuthenticator implements TokenAuthenticator {
  readonly name = 'local-tokens';
  private readonly path: string;
  private records = new Map<string, NodeTokenRecord>();
  /** The file's identity when read: inode, size and mtime (writes replace it by rename, so the inode
   * changes even when two writes fall in one tick of the file system's clock). */
  private version = '';
  private checkedAt = 0;
  private readonly now: () => number;

  private constructor(path: string, now: () => number) {
    this.path = path;
    this.now = now;
  }

  /** Loads `path`, which must not be readable by group or others (mode 0600). */
  static async load(path: string, opts: { now?: () => number } = {}): Promise<LocalTokenAuthenticator> {
    const a = new LocalTokenAuthenticator(path, opts.now ?? Date.now);
    await a.reload();
    return a;
  }

  async reload(): Promise<void> {
    let st;
    try {
      st = await stat(this.path);
    } catch (err) {
      throw new MeshError(
        'CA_ERR_TOKEN_FILE',
        `cannot read the node token file ${this.path}: ${errorMessage(err)}`,
        { cause: err },
      );
    }
    if ((st.mode & 0o077) !== 0) {
      throw new MeshError(
        'CA_ERR_TOKEN_FILE_MODE',
        `the node token file ${this.path} has mode ${(st.mode & 0o777).toString(8)}; it must be 600 (chmod 600 ${this.path})`,
      );
    }
    const records = await readRecords(this.path);
    this.records = new Map(records.map((r) => [r.tokenSha256, r]));
    this.version = fileVersion(st);
  }

  async authenticate(token: string): Promise<AuthnResult> {
    await this.maybeReload();
    const d = digest(token);
    let rec = this.records.get(d.toString('hex'));
    // A token added in the last second (a waypoint or sidecar just deployed) is not missed: on a miss
    // the file is looked at again at once (a stat; reread only when it changed).
    if (!rec) {
      await this.maybeReload(true);
      rec = this.records.get(d.toString('hex'));
    }
    if (!rec || !timingSafeEqual(Buffer.from(rec.tokenSha256, 'hex'), d)) {
      return unauthenticated('unknown_token', 'the bearer token is not a known node token');
    }
    if (rec.expiresAt && Date.parse(rec.expiresAt) <= this.now()) {
      return unauthenticated('expired_token', `the node token of "${rec.node}" expired at ${rec.expiresAt}`);
    }
    const identity = parseSpiffeUri(rec.identity) as SpiffeId;
    return { ok: true, caller: { identity, node: rec.node, via: 'local-token' } };
  }

  private async maybeReload(now = false): Promise<void> {
    const t = this.now();
    if (!now && t - this.checkedAt < 1000) return;
    this.checkedAt = t;
    try {
      const st = await stat(this.path);
      if (fileVersion(st) !== this.version) await this.reload();
    } catch {
      // Keep the last good set; the problem shows on the next explicit reload.
    }
  }
}
