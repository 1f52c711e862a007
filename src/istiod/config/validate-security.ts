/**
 * Spec checks for AuthorizationPolicy and PeerAuthentication (security.istio.io).
 */
import type { Fields } from './fields.js';
import { show } from './fields.js';
import { parseWhenKey } from '../../l7/security/authz-compile.js';

type Obj = Record<string, unknown>;
const MTLS_MODES = ['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT'] as const;
const SOURCE_LISTS = [
  'principals',
  'notPrincipals',
  'requestPrincipals',
  'notRequestPrincipals',
  'namespaces',
  'notNamespaces',
];
const SOURCE_IPS = ['ipBlocks', 'notIpBlocks', 'remoteIpBlocks', 'notRemoteIpBlocks'];
const OPERATION_LISTS = ['hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths'];

export function checkSelector(f: Fields, spec: Obj): boolean {
  const sel = f.object(spec.selector, 'spec.selector');
  if (sel) f.labels(sel.matchLabels, 'spec.selector.matchLabels');
  return sel !== undefined;
}

function checkTargetRef(f: Fields, ref: Obj, path: string): void {
  f.string(ref.group, `${path}.group`);
  f.string(ref.kind, `${path}.kind`, { required: true, nonEmpty: true });
  f.string(ref.name, `${path}.name`, { required: true, nonEmpty: true });
  f.string(ref.namespace, `${path}.namespace`);
}

/** A security policy's `targetRef` / `targetRefs`, which exclude a `selector`. */
export function checkPolicyTargets(f: Fields, spec: Obj, hasSelector: boolean): void {
  const ref = f.object(spec.targetRef, 'spec.targetRef');
  if (ref) checkTargetRef(f, ref, 'spec.targetRef');
  f.objects(spec.targetRefs, 'spec.targetRefs', (r, p) => checkTargetRef(f, r, p));
  if (hasSelector && (ref || spec.targetRefs !== undefined))
    f.add('spec', 'selector and targetRef/targetRefs cannot both be set');
}

/** Istio's ports are strings; numbers written in YAML are accepted and turned into strings. */
function checkPorts(f: Fields, op: Obj, key: string, path: string): void {
  const list = f.array(op[key], `${path}.${key}`);
  if (!list) return;
  op[key] = list.map((p, i) => {
    const text = typeof p === 'number' ? String(p) : p;
    if (typeof text !== 'string' || !/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 65535)
      f.add(`${path}.${key}[${i}]`, `${show(p)} is not a valid port number (an integer from 1 to 65535)`);
    return text;
  });
}

function checkRule(f: Fields, rule: Obj, path: string): void {
  f.objects(rule.from, `${path}.from`, (from, fp) => {
    const src = f.object(from.source, `${fp}.source`, { required: true });
    if (!src) return;
    for (const k of SOURCE_LISTS) f.strings(src[k], `${fp}.source.${k}`);
    for (const k of SOURCE_IPS) f.ipList(src[k], `${fp}.source.${k}`, true);
    if (Object.keys(src).length === 0) f.add(`${fp}.source`, 'must set at least one field');
  });
  f.objects(rule.to, `${path}.to`, (to, tp) => {
    const op = f.object(to.operation, `${tp}.operation`, { required: true });
    if (!op) return;
    for (const k of OPERATION_LISTS) f.strings(op[k], `${tp}.operation.${k}`);
    checkPorts(f, op, 'ports', `${tp}.operation`);
    checkPorts(f, op, 'notPorts', `${tp}.operation`);
    if (Object.keys(op).length === 0) f.add(`${tp}.operation`, 'must set at least one field');
  });
  f.objects(rule.when, `${path}.when`, (w, wp) => {
    const key = f.string(w.key, `${wp}.key`, { required: true, nonEmpty: true });
    const attr = key === undefined ? undefined : parseWhenKey(key);
    if (typeof attr === 'string') f.add(`${wp}.key`, attr);
    const values = f.strings(w.values, `${wp}.values`);
    const notValues = f.strings(w.notValues, `${wp}.notValues`);
    if (!values?.length && !notValues?.length) f.add(wp, 'must set values or notValues');
  });
}

function checkAuthorizationPolicy(f: Fields, o: Obj): void {
  const spec = f.object(o.spec, 'spec') ?? {};
  if (o.spec === undefined || o.spec === null) o.spec = spec;
  checkPolicyTargets(f, spec, checkSelector(f, spec));
  const action = f.oneOf(spec.action, 'spec.action', ['ALLOW', 'DENY', 'AUDIT', 'CUSTOM']);
  const provider = f.object(spec.provider, 'spec.provider');
  if (provider) f.string(provider.name, 'spec.provider.name', { required: true });
  if (action === 'CUSTOM' && !provider) f.add('spec.provider', 'is required when action is CUSTOM');
  if (action !== 'CUSTOM' && provider) f.add('spec.provider', 'is only allowed when action is CUSTOM');
  f.objects(spec.rules, 'spec.rules', (r, p) => checkRule(f, r, p));
}

function checkPeerAuthentication(f: Fields, o: Obj): void {
  const spec = f.object(o.spec, 'spec') ?? {};
  if (o.spec === undefined || o.spec === null) o.spec = spec;
  const hasSelector = checkSelector(f, spec);
  const mtls = f.object(spec.mtls, 'spec.mtls');
  if (mtls) f.oneOf(mtls.mode, 'spec.mtls.mode', MTLS_MODES);
  const ports = f.object(spec.portLevelMtls, 'spec.portLevelMtls');
  if (!ports) return;
  if (!hasSelector)
    f.add('spec.portLevelMtls', 'requires spec.selector (port-level settings apply to selected workloads)');
  for (const [port, value] of Object.entries(ports)) {
    const path = `spec.portLevelMtls[${port}]`;
    if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535)
      f.add(path, `${show(port)} is not a valid port number (an integer from 1 to 65535)`);
    const m = f.object(value, path, { required: true });
    if (m) f.oneOf(m.mode, `${path}.mode`, MTLS_MODES);
  }
}

export const SECURITY_CHECKS: Record<string, (f: Fields, o: Obj) => void> = {
  AuthorizationPolicy: checkAuthorizationPolicy,
  PeerAuthentication: checkPeerAuthentication,
};
