/**
 * AuthorizationPolicy status as Istio writes it in ambient mode: `WaypointAccepted` for a policy
 * bound with targetRefs to a waypoint, a Service or an ingress Gateway (False when its target is not there, or for CUSTOM, which fails closed here),
 * `ZtunnelAccepted` for a selector or namespace policy (False, reason UnsupportedValue, when it names
 * HTTP attributes ztunnel cannot see, saying what that does). Written into the object's file (one
 * object per file), only when it changed.
 */
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { stringify } from 'yaml';
import { convertAuthorizationPolicy } from '../../istiod/model/authz-convert.js';
import type { AuthorizationPolicyObj } from '../../istiod/model/inputs.js';
import type { Obj } from './manifests.js';
import { writeFileAtomic } from '../../common/atomic-file.js';

const rec = (v: unknown): Obj => (v && typeof v === 'object' ? (v as Obj) : {});
const now = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

interface Condition {
  type: string;
  status: 'True' | 'False';
  reason: string;
  message: string;
}

/** The condition an AuthorizationPolicy should carry, given what exists. */
export function policyCondition(obj: Obj, all: Obj[], rootNamespace: string): Condition {
  const ns = String(rec(obj.metadata).namespace ?? 'default');
  const spec = rec(obj.spec);
  const refs = [
    ...(Array.isArray(spec.targetRefs) ? spec.targetRefs : []),
    ...(spec.targetRef ? [spec.targetRef] : []),
  ].map(rec);
  if (refs.length === 0) {
    const r = convertAuthorizationPolicy(obj as unknown as AuthorizationPolicyObj, rootNamespace);
    return r.warning
      ? { type: 'ZtunnelAccepted', status: 'False', reason: 'UnsupportedValue', message: r.warning }
      : { type: 'ZtunnelAccepted', status: 'True', reason: 'Accepted', message: 'attached to ztunnel' };
  }
  const has = (
    kind: string,
    name: string,
    namespace: string,
    test: (o: Obj) => boolean = () => true,
  ): boolean =>
    all.some(
      (o) =>
        o.kind === kind &&
        String(rec(o.metadata).name) === name &&
        String(rec(o.metadata).namespace ?? 'default') === namespace &&
        test(o),
    );
  const missing: string[] = [];
  const bound: string[] = [];
  for (const r of refs) {
    const kind = String(r.kind);
    const name = String(r.name);
    let ok = false;
    if (kind === 'Gateway')
      ok = has('Gateway', name, ns, (o) =>
        ['istio-waypoint', 'istio'].includes(String(rec(o.spec).gatewayClassName)),
      );
    else if (kind === 'Service') ok = has('Service', name, ns);
    else if (kind === 'GatewayClass') ok = name === 'istio-waypoint' && ns === rootNamespace;
    (ok ? bound : missing).push(`${kind} ${name}`);
  }
  if (missing.length > 0)
    return {
      type: 'WaypointAccepted',
      status: 'False',
      reason: 'TargetNotFound',
      message: `not bound to a waypoint: ${missing.join(', ')} (a waypoint or ingress Gateway or a Service in namespace ${ns}, or GatewayClass istio-waypoint in ${rootNamespace})`,
    };
  if (spec.action === 'CUSTOM')
    return {
      type: 'WaypointAccepted',
      status: 'False',
      reason: 'UnsupportedValue',
      message:
        'CUSTOM (ext_authz) has no provider in this mesh: requests its rules match are denied (fails closed)',
    };
  return {
    type: 'WaypointAccepted',
    status: 'True',
    reason: 'Accepted',
    message: `bound to ${bound.join(', ')}`,
  };
}

/** Writes each AuthorizationPolicy's status where it changed; true when a file was written. */
export async function writePolicyStatus(
  dir: string,
  all: Array<{ file: string; obj: Obj }>,
  rootNamespace = 'istio-system',
): Promise<boolean> {
  const objs = all.map((x) => x.obj);
  let changed = false;
  for (const { file, obj } of all) {
    if (obj.kind !== 'AuthorizationPolicy') continue;
    if (all.filter((x) => x.file === file).length !== 1) continue;
    const c = policyCondition(obj, objs, rootNamespace);
    const old = rec(obj.status);
    const prev = (Array.isArray(old.conditions) ? old.conditions.map(rec) : []).find(
      (x) => x.type === c.type,
    );
    const lastTransitionTime =
      prev?.status === c.status && typeof prev.lastTransitionTime === 'string'
        ? prev.lastTransitionTime
        : now();
    const status = { conditions: [{ ...c, lastTransitionTime }] };
    if (isDeepStrictEqual(old, status)) continue;
    await writeFileAtomic(join(dir, file), stringify({ ...obj, status }));
    changed = true;
  }
  return changed;
}
