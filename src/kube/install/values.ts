/**
 * The install values: the defaults in deploy/kubernetes/values.yaml (the one documented place), a
 * user's file laid over them (`meshctl install -f`), and `--set a.b=c` overrides, checked once into a
 * typed object the renderers use.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { MeshError } from '../../common/errors.js';

export type Resources = {
  requests?: Record<string, string>;
  limits?: Record<string, string>;
};

export interface InstallValues {
  images: { hub: string; tag: string; pullPolicy: 'Always' | 'IfNotPresent' | 'Never' };
  trustDomain: string;
  clusterId: string;
  logLevel: string;
  istiod: { replicas: number; resources: Resources };
  ztunnel: { resources: Resources; terminationGracePeriodSeconds: number };
  nodeAgent: { resources: Resources; netnsDir: string; excludeNamespaces: string[] };
  waypoint: { resources: Resources };
  sidecar: { resources: Resources; failurePolicy: 'Fail' | 'Ignore' };
}

/** deploy/kubernetes/ of this checkout (dist/src/kube/install → four levels up). */
export const DEPLOY_DIR = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  '..',
  'deploy',
  'kubernetes',
);
export const DEFAULT_VALUES_FILE = join(DEPLOY_DIR, 'values.yaml');

type Tree = Record<string, unknown>;

function isTree(v: unknown): v is Tree {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Lays `over` on `base`: maps merge key by key, anything else replaces. Unknown keys are errors. */
export function mergeValues(base: Tree, over: Tree, where: string, path = ''): Tree {
  const out: Tree = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const p = path ? `${path}.${k}` : k;
    if (!(k in base))
      throw new MeshError(
        'KUBE_ERR_VALUES',
        `${where}: unknown value "${p}"; the known values are in deploy/kubernetes/values.yaml`,
      );
    const b = base[k];
    // Resources maps are replaced whole where given (requests without limits means no limits).
    out[k] = isTree(b) && isTree(v) && !/resources$/.test(p) ? mergeValues(b, v, where, p) : v;
  }
  return out;
}

/** `a.b.c=value` as a tree; numbers and true/false become numbers and booleans, `[x,y]` a list. */
export function setToTree(expr: string): Tree {
  const eq = expr.indexOf('=');
  if (eq <= 0) throw new MeshError('KUBE_ERR_VALUES', `--set ${expr}: expected key.path=value`);
  const keys = expr.slice(0, eq).split('.');
  const raw = expr.slice(eq + 1);
  let value: unknown = raw;
  if (/^-?\d+$/.test(raw)) value = Number(raw);
  else if (raw === 'true' || raw === 'false') value = raw === 'true';
  else if (/^\[.*\]$/.test(raw))
    value = raw
      .slice(1, -1)
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const root: Tree = {};
  let cur = root;
  keys.forEach((k, i) => {
    if (i === keys.length - 1) cur[k] = value;
    else cur = cur[k] = {};
  });
  return root;
}

function need(cond: boolean, what: string): void {
  if (!cond) throw new MeshError('KUBE_ERR_VALUES', `values: ${what}`);
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Checks the merged tree's types and ranges; the message names the value and what it must be. */
export function checkValues(t: Tree): InstallValues {
  const v = t as unknown as InstallValues;
  need(
    isTree(v.images) && typeof v.images.hub === 'string' && v.images.hub !== '',
    'images.hub must be a non-empty string',
  );
  need(
    typeof v.images.tag === 'string' && v.images.tag !== '',
    'images.tag must be a non-empty string (quote numbers)',
  );
  need(
    ['Always', 'IfNotPresent', 'Never'].includes(v.images.pullPolicy),
    `images.pullPolicy must be Always, IfNotPresent or Never, not "${String(v.images.pullPolicy)}"`,
  );
  need(
    typeof v.trustDomain === 'string' && /^[a-z0-9.-]+$/.test(v.trustDomain),
    'trustDomain must be a DNS name',
  );
  need(typeof v.clusterId === 'string' && v.clusterId !== '', 'clusterId must be a non-empty string');
  need(
    ['trace', 'debug', 'info', 'warn', 'error', 'fatal'].includes(v.logLevel),
    `logLevel must be one of trace, debug, info, warn, error, fatal, not "${String(v.logLevel)}"`,
  );
  need(
    Number.isInteger(v.istiod?.replicas) && v.istiod.replicas >= 1,
    `istiod.replicas must be an integer of at least 1, not ${String(v.istiod?.replicas)}`,
  );
  need(
    Number.isInteger(v.ztunnel?.terminationGracePeriodSeconds) &&
      v.ztunnel.terminationGracePeriodSeconds >= 6,
    'ztunnel.terminationGracePeriodSeconds must be an integer of at least 6 (ztunnel drains for grace - 5 s)',
  );
  need(
    typeof v.nodeAgent?.netnsDir === 'string' && v.nodeAgent.netnsDir.startsWith('/'),
    'nodeAgent.netnsDir must be an absolute path',
  );
  need(
    Array.isArray(v.nodeAgent.excludeNamespaces) &&
      v.nodeAgent.excludeNamespaces.every((n) => DNS_LABEL.test(n)),
    'nodeAgent.excludeNamespaces must be a list of namespace names',
  );
  need(
    v.sidecar?.failurePolicy === 'Fail' || v.sidecar?.failurePolicy === 'Ignore',
    `sidecar.failurePolicy must be Fail or Ignore, not "${String(v.sidecar?.failurePolicy)}"`,
  );
  for (const [name, r] of [
    ['istiod.resources', v.istiod.resources],
    ['ztunnel.resources', v.ztunnel.resources],
    ['nodeAgent.resources', v.nodeAgent.resources],
    ['waypoint.resources', v.waypoint?.resources],
    ['sidecar.resources', v.sidecar?.resources],
  ] as const) {
    need(isTree(r), `${name} must be a map with requests and/or limits`);
    for (const [k, m] of Object.entries(r as Tree)) {
      need(k === 'requests' || k === 'limits', `${name}.${k}: only requests and limits are known`);
      need(
        isTree(m) && Object.values(m).every((q) => typeof q === 'string' || typeof q === 'number'),
        `${name}.${k} must map resource names to quantities (e.g. cpu: 100m)`,
      );
      for (const [res, q] of Object.entries(m as Tree)) (m as Tree)[res] = String(q);
    }
  }
  return v;
}

function readYamlTree(file: string): Tree {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new MeshError('KUBE_ERR_VALUES', `${file}: cannot read (${(err as Error).message})`);
  }
  const t: unknown = parse(text) ?? {};
  if (!isTree(t)) throw new MeshError('KUBE_ERR_VALUES', `${file}: expected a YAML map of values`);
  return t;
}

/** The defaults, then each values file, then each --set, checked. */
export function loadValues(files: readonly string[] = [], sets: readonly string[] = []): InstallValues {
  let t = readYamlTree(DEFAULT_VALUES_FILE);
  for (const f of files) t = mergeValues(t, readYamlTree(f), f);
  for (const s of sets) t = mergeValues(t, setToTree(s), `--set ${s}`);
  return checkValues(structuredClone(t));
}
