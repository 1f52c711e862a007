/**
 * VirtualService status as Istio's analysis writes it: a `gateways` entry naming no networking.istio.io
 * Gateway gets IST0101 (ReferencedResourceNotFound, level ERROR) in `status.validationMessages`; the
 * entry goes once the Gateway exists. Written into the object's file (one object per file), only when
 * it changed; other status fields are kept.
 */
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { stringify } from 'yaml';
import { kindIdOf } from '../../istiod/config/kinds.js';
import type { IstioGateway, VirtualService } from '../../istiod/config/types.js';
import { missingGateways } from '../../istiod/l7/classic-gateway-configs.js';
import type { Obj } from './manifests.js';
import { writeFileAtomic } from '../../common/atomic-file.js';

const rec = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});

export const IST0101 = {
  documentationUrl: 'https://istio.io/latest/docs/reference/config/analysis/ist0101/',
  level: 'ERROR',
  type: { code: 'IST0101', name: 'ReferencedResourceNotFound' },
};

/** `Referenced gateway not found: "x"` lines for a VirtualService, given every object. */
export function vsGatewayProblems(vs: Obj, all: Obj[]): string[] {
  const spec = rec(vs.spec);
  if (!Array.isArray(spec.gateways)) return [];
  const gateways = all.filter((o) => kindIdOf(o) === 'IstioGateway') as unknown as IstioGateway[];
  const typed = { ...vs, spec: { ...spec, gateways: spec.gateways.filter((g) => typeof g === 'string') } };
  return missingGateways(typed as unknown as VirtualService, gateways).map(
    (g) => `Referenced gateway not found: "${g}"`,
  );
}

export async function writeVirtualServiceStatus(
  dir: string,
  all: Array<{ file: string; obj: Obj }>,
): Promise<boolean> {
  const objs = all.map((x) => x.obj);
  let changed = false;
  for (const { file, obj } of all) {
    if (kindIdOf(obj) !== 'VirtualService') continue;
    if (all.filter((x) => x.file === file).length !== 1) continue;
    const old = rec(obj.status);
    const kept = (Array.isArray(old.validationMessages) ? old.validationMessages.map(rec) : []).filter(
      (m) => rec(m.type).code !== IST0101.type.code,
    );
    const missing = vsGatewayProblems(obj, objs).length > 0;
    const messages = missing ? [...kept, IST0101] : kept;
    const status: Obj = { ...old };
    if (messages.length) status.validationMessages = messages;
    else delete status.validationMessages;
    if (isDeepStrictEqual(old, status)) continue;
    const next: Obj = { ...obj };
    if (Object.keys(status).length) next.status = status;
    else delete next.status;
    await writeFileAtomic(join(dir, file), stringify(next));
    changed = true;
  }
  return changed;
}
