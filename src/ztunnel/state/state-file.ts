/**
 * The file-based source of ztunnel state, in place of istiod: a YAML or JSON file with `workloads:`,
 * `services:` and `policies:` lists in the xDS wire shapes (see file-shapes.ts for the conveniences).
 * Loading applies it to a store as one full snapshot: resources no longer in the file are removed.
 */
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { MeshError, errorMessage } from '../../common/errors.js';
import type { Authorization } from '../../xds/security-types.js';
import type { Address } from '../../xds/workload-types.js';
import { filePolicy, fileService, fileWorkload } from './file-shapes.js';
import { StateStore, type ResourceErrors } from './store.js';

/** One snapshot read from a file, keyed by xDS resource name, before validation. */
export interface StateSnapshot {
  addresses: Map<string, Address>;
  authorizations: Map<string, Authorization>;
  /** Entries that could not even be read into wire form (by list position). */
  errors: ResourceErrors[];
}

export interface LoadResult {
  store: StateStore;
  /** Everything rejected: unreadable entries and resources that failed validation. */
  errors: ResourceErrors[];
}

function list(doc: Record<string, unknown>, field: string): unknown[] {
  const v = doc[field];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new MeshError('ZT_ERR_STATE_FILE', `state file: "${field}" must be a list`);
  return v;
}

/** Parses the text of a state file. Throws ZT_ERR_STATE_FILE when it is not YAML/JSON of the right form. */
export function parseStateFile(text: string, source = 'state file'): StateSnapshot {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new MeshError('ZT_ERR_STATE_FILE', `${source}: not valid YAML/JSON: ${errorMessage(err)}`, {
      cause: err,
    });
  }
  if (doc === null || doc === undefined) doc = {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new MeshError(
      'ZT_ERR_STATE_FILE',
      `${source}: expected a mapping with workloads, services, policies`,
    );
  }
  const d = doc as Record<string, unknown>;
  const unknown = Object.keys(d).filter((k) => k !== 'workloads' && k !== 'services' && k !== 'policies');
  if (unknown.length) {
    throw new MeshError('ZT_ERR_STATE_FILE', `${source}: unknown top-level keys ${unknown.join(', ')}`);
  }
  const snap: StateSnapshot = { addresses: new Map(), authorizations: new Map(), errors: [] };
  list(d, 'workloads').forEach((raw, i) => {
    const errs: string[] = [];
    const w = fileWorkload(raw, 'workload', errs);
    const name = w.uid || `workloads[${i}]`;
    if (errs.length) snap.errors.push({ name, errors: errs });
    else snap.addresses.set(name, { workload: w });
  });
  list(d, 'services').forEach((raw, i) => {
    const errs: string[] = [];
    const s = fileService(raw, 'service', errs);
    const name = s.namespace && s.hostname ? `${s.namespace}/${s.hostname}` : `services[${i}]`;
    if (errs.length) snap.errors.push({ name, errors: errs });
    else snap.addresses.set(name, { service: s });
  });
  list(d, 'policies').forEach((raw, i) => {
    const errs: string[] = [];
    const p = filePolicy(raw, 'authorization', errs);
    const name = p.namespace && p.name ? `${p.namespace}/${p.name}` : `policies[${i}]`;
    if (errs.length) snap.errors.push({ name, errors: errs });
    else snap.authorizations.set(name, p);
  });
  return snap;
}

/**
 * Applies a snapshot as the complete state: upserts everything in it, removes what it no longer has.
 */
export function applySnapshot(store: StateStore, snap: StateSnapshot): ResourceErrors[] {
  // An entry that could not be read keeps its previous version, as a rejected xDS resource does.
  const bad = new Set(snap.errors.map((e) => e.name));
  const goneAddresses = [...store.addressNames()].filter((n) => !snap.addresses.has(n) && !bad.has(n));
  const gonePolicies = [...store.authorizationNames()].filter(
    (n) => !snap.authorizations.has(n) && !bad.has(n),
  );
  const a = store.applyAddresses(snap.addresses, goneAddresses);
  const p = store.applyAuthorizations(snap.authorizations, gonePolicies);
  return [...snap.errors, ...a.errors, ...p.errors];
}

/** Reads a state file and applies it to `store` (a new one by default). */
export async function loadStateFile(path: string, store: StateStore = new StateStore()): Promise<LoadResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new MeshError('ZT_ERR_STATE_FILE', `cannot read state file ${path}: ${errorMessage(err)}`, {
      cause: err,
    });
  }
  const errors = applySnapshot(store, parseStateFile(text, path));
  return { store, errors };
}
