/**
 * Validation of one configuration object: known kind and version, metadata, then the kind's spec.
 * The result is a value: the typed object, the issues found (each naming the object and the field),
 * or "ignored" for kinds the mesh does not read.
 */
import { Fields, isObj, show } from './fields.js';
import { apiVersionOf, kindInfoFor, splitApiVersion, type KindInfo } from './kinds.js';
import { describeObject, objectKey, type ConfigObject } from './types.js';
import { CORE_CHECKS } from './validate-core.js';
import { MESH_CHECKS } from './validate-mesh.js';
import { SECURITY_CHECKS } from './validate-security.js';
import { ROUTING_CHECKS } from './validate-routing.js';
import { REQUEST_AUTHN_CHECKS } from './validate-request-authn.js';

/** Where a document came from, for messages: `mesh.yaml, document 2: ...`. */
export interface DocumentOrigin {
  file?: string;
  /** 1-based index of the YAML document in the file. */
  document?: number;
  /** 1-based index inside a `kind: List` document. */
  item?: number;
}

export interface ConfigIssue extends DocumentOrigin {
  kind?: string;
  /** The API group of `kind` ('' for core kinds); with `kind`, which kind the object is. */
  group?: string;
  namespace?: string;
  name?: string;
  /** Field path, e.g. `spec.action`; empty when the problem is the whole document. */
  path: string;
  message: string;
  /** The full line to show people. */
  text: string;
}

export type ValidationResult =
  | { status: 'valid'; key: string; object: ConfigObject }
  /** `key` is set when the object could still be identified (so its last good version can serve). */
  | { status: 'invalid'; key?: string; issues: ConfigIssue[] }
  | { status: 'ignored'; kind: string; apiVersion: string; reason: string };

/** Spec checks by kind id (kinds.ts). */
const CHECKS: Record<string, (f: Fields, o: Record<string, unknown>) => void> = {
  ...CORE_CHECKS,
  ...MESH_CHECKS,
  ...SECURITY_CHECKS,
  ...ROUTING_CHECKS,
  ...REQUEST_AUTHN_CHECKS,
};

export function originPrefix(origin: DocumentOrigin | undefined): string {
  if (!origin?.file && origin?.document === undefined) return '';
  const parts: string[] = [];
  if (origin.file) parts.push(origin.file);
  if (origin.document !== undefined) parts.push(`document ${origin.document}`);
  if (origin.item !== undefined) parts.push(`item ${origin.item}`);
  return `${parts.join(', ')}: `;
}

export function makeIssue(
  origin: DocumentOrigin | undefined,
  who: { kind?: string; group?: string; namespace?: string; name?: string },
  path: string,
  message: string,
): ConfigIssue {
  const subject = who.kind ? `${describeObject(who.kind, who.namespace, who.name ?? '<no name>')}: ` : '';
  const text = `${originPrefix(origin)}${subject}${path ? `${path}: ` : ''}${message}`;
  return { ...origin, ...who, path, message, text };
}

/** The kind, namespace and name of a raw document when they can be read (namespace defaulted). */
export function identify(raw: unknown): { info: KindInfo; namespace?: string; name: string } | undefined {
  if (!isObj(raw) || typeof raw.kind !== 'string' || !isObj(raw.metadata)) return undefined;
  const info = kindInfoFor(typeof raw.apiVersion === 'string' ? raw.apiVersion : '', raw.kind);
  const name = raw.metadata.name;
  if (!info || typeof name !== 'string' || name === '') return undefined;
  if (!info.namespaced) return { info, name };
  const ns = raw.metadata.namespace;
  return { info, name, namespace: typeof ns === 'string' && ns !== '' ? ns : 'default' };
}

function checkMetadata(f: Fields, info: KindInfo, o: Record<string, unknown>): void {
  const meta = f.object(o.metadata, 'metadata', { required: true });
  if (!meta) return;
  const name = f.string(meta.name, 'metadata.name', { required: true });
  if (name !== undefined) {
    if (info.id === 'Namespace') f.dnsLabel(name, 'metadata.name');
    else f.dnsSubdomain(name, 'metadata.name');
  }
  if (info.namespaced) {
    if (meta.namespace === undefined || meta.namespace === null || meta.namespace === '')
      meta.namespace = 'default';
    const ns = f.string(meta.namespace, 'metadata.namespace');
    if (ns !== undefined) f.dnsLabel(ns, 'metadata.namespace');
  } else {
    delete meta.namespace;
  }
  f.labels(meta.labels, 'metadata.labels');
  f.stringMap(meta.annotations, 'metadata.annotations');
  f.string(meta.uid, 'metadata.uid');
  f.string(meta.resourceVersion, 'metadata.resourceVersion');
  f.int(meta.generation, 'metadata.generation', { min: 0 });
  const ts = meta.creationTimestamp;
  if (ts instanceof Date) meta.creationTimestamp = ts.toISOString();
  else if (ts !== undefined && ts !== null) {
    if (typeof ts !== 'string' || Number.isNaN(Date.parse(ts)))
      f.add('metadata.creationTimestamp', `${show(ts)} is not a time such as 2026-01-02T03:04:05Z`);
  }
}

export function validateObject(raw: unknown, origin?: DocumentOrigin): ValidationResult {
  if (!isObj(raw))
    return {
      status: 'invalid',
      issues: [
        makeIssue(
          origin,
          {},
          '',
          `expected a Kubernetes object (a map with apiVersion, kind, metadata), got ${show(raw)}`,
        ),
      ],
    };
  const { kind, apiVersion } = raw;
  if (typeof kind !== 'string' || kind === '' || typeof apiVersion !== 'string' || apiVersion === '') {
    const path = typeof kind !== 'string' || kind === '' ? 'kind' : 'apiVersion';
    return { status: 'invalid', issues: [makeIssue(origin, {}, path, 'is required')] };
  }
  const info = kindInfoFor(apiVersion, kind);
  const { version } = splitApiVersion(apiVersion);
  if (!info)
    return {
      status: 'ignored',
      kind,
      apiVersion,
      reason: `${apiVersion} ${kind} is not a kind the mesh reads`,
    };

  const id = identify(raw);
  const meta = isObj(raw.metadata) ? raw.metadata : {};
  const rawNs = typeof meta.namespace === 'string' && meta.namespace !== '' ? meta.namespace : 'default';
  const rawName = typeof meta.name === 'string' && meta.name !== '' ? meta.name : undefined;
  const who = { kind, group: info.group, namespace: info.namespaced ? rawNs : undefined, name: rawName };
  const key = id ? objectKey(info.id, id.namespace, id.name) : undefined;
  const f = new Fields();
  if (!info.versions.includes(version))
    f.add(
      'apiVersion',
      `${show(apiVersion)} is not one of ${info.versions.map((v) => apiVersionOf(info, v)).join(', ')}`,
    );
  const obj = structuredClone(raw);
  checkMetadata(f, info, obj);
  CHECKS[info.id]?.(f, obj);
  if (f.issues.length > 0)
    return { status: 'invalid', key, issues: f.issues.map((i) => makeIssue(origin, who, i.path, i.message)) };
  return { status: 'valid', key: key!, object: obj as unknown as ConfigObject };
}
