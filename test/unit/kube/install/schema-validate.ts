/**
 * Validation of rendered objects with libraries made for it: kubernetes-models (the Kubernetes
 * OpenAPI schemas, compiled for ajv) for built-in kinds, @kubernetes-models/gateway-api for the
 * Gateway API, and ajv with a CRD's own openAPIV3Schema for custom resources.
 */
import { Ajv } from 'ajv';
import type { KubeObject } from '../../../../src/kube/install/objects.js';

type Model = new (o: unknown) => { validate(): void };

/** The kubernetes-models class for an apiVersion and kind, or undefined when the library has none. */
async function modelFor(apiVersion: string, kind: string): Promise<Model | undefined> {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  // The packages export one module per group version (ESM only).
  const mod = group?.startsWith('gateway.networking.k8s.io')
    ? `@kubernetes-models/gateway-api/${group}/${version}`
    : group
      ? `kubernetes-models/${group}/${version}`
      : `kubernetes-models/${version}`;
  try {
    return ((await import(mod)) as Record<string, Model>)[kind];
  } catch {
    return undefined;
  }
}

/** Validates against the published schema; returns the problems (empty when valid). */
export async function schemaProblems(o: KubeObject): Promise<string[]> {
  const M = await modelFor(o.apiVersion, o.kind);
  if (!M) return [`no schema for ${o.apiVersion} ${o.kind}`];
  try {
    new M(o).validate();
    return [];
  } catch (err) {
    const e = err as { message: string; errors?: Array<{ instancePath: string; message: string }> };
    return e.errors?.map((x) => `${x.instancePath} ${x.message}`) ?? [e.message];
  }
}

/** A CRD version's structural schema as plain JSON Schema (the x-kubernetes-* keywords are annotations). */
const ajv = new Ajv({ strict: false, allErrors: true });

export function crProblems(crd: KubeObject, o: KubeObject): string[] {
  const spec = crd.spec as {
    group: string;
    names: { kind: string };
    versions: Array<{ name: string; served: boolean; schema: { openAPIV3Schema: object } }>;
  };
  const [group, version] = o.apiVersion.split('/');
  if (group !== spec.group || o.kind !== spec.names.kind)
    return [`${o.kind} is not served by ${crd.metadata.name}`];
  const v = spec.versions.find((x) => x.name === version && x.served);
  if (!v) return [`${crd.metadata.name} does not serve version ${version}`];
  const validate = ajv.compile(v.schema.openAPIV3Schema);
  return validate(o) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}
