/**
 * The objects the kubelet role reads: Namespaces, Pods, Deployments (replicas spread over the nodes)
 * and Services (a ClusterIP assigned from 10.96.0.0/16 when missing).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

export interface Container {
  name: string;
  command: string[];
  args: string[];
  env: Record<string, string>;
  ports: number[];
}

export interface PodSpecIn {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  serviceAccountName: string;
  nodeName?: string;
  containers: Container[];
  deployment?: string;
  annotations?: Record<string, string>;
  /** Injected with a sidecar (injection.ts). */
  sidecar?: boolean;
}

export interface ServiceIn {
  namespace: string;
  name: string;
  clusterIP: string;
  selector: Record<string, string>;
  ports: Array<{ port: number; targetPort: number; name?: string }>;
}

export type Obj = Record<string, unknown> & { kind?: string; metadata?: Record<string, unknown> };

export async function readObjects(dir: string): Promise<Array<{ file: string; obj: Obj }>> {
  const out: Array<{ file: string; obj: Obj }> = [];
  const files = (await readdir(dir)).filter((f) => /\.(ya?ml|json)$/.test(f)).sort();
  for (const f of files) {
    const text = await readFile(join(dir, f), 'utf8');
    for (const d of parseAllDocuments(text)) {
      const v = d.toJSON() as unknown;
      if (v && typeof v === 'object') out.push({ file: f, obj: v as Obj });
    }
  }
  return out;
}

const rec = (v: unknown): Record<string, unknown> =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
const strs = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);
const strMap = (v: unknown): Record<string, string> =>
  Object.fromEntries(Object.entries(rec(v)).map(([k, x]) => [k, String(x)]));

function containers(spec: Record<string, unknown>): Container[] {
  const list = Array.isArray(spec.containers) ? spec.containers : [];
  return list.map((c, i) => {
    const r = rec(c);
    const env: Record<string, string> = {};
    for (const e of Array.isArray(r.env) ? r.env : []) {
      const er = rec(e);
      if (typeof er.name === 'string') env[er.name] = String(er.value ?? '');
    }
    const ports = (Array.isArray(r.ports) ? r.ports : [])
      .map((p) => Number(rec(p).containerPort))
      .filter((p) => p > 0);
    return {
      name: typeof r.name === 'string' ? r.name : `c${i}`,
      command: strs(r.command),
      args: strs(r.args),
      env,
      ports,
    };
  });
}

function podFrom(meta: Record<string, unknown>, spec: Record<string, unknown>, name: string): PodSpecIn {
  const p: PodSpecIn = {
    namespace: typeof meta.namespace === 'string' ? meta.namespace : 'default',
    name,
    labels: strMap(meta.labels),
    serviceAccountName: typeof spec.serviceAccountName === 'string' ? spec.serviceAccountName : 'default',
    containers: containers(spec),
  };
  const ann = strMap(meta.annotations);
  if (Object.keys(ann).length > 0) p.annotations = ann;
  if (typeof spec.nodeName === 'string') p.nodeName = spec.nodeName;
  return p;
}

/** Pods to run: bare Pods as given, Deployments expanded to `<name>-<i>` (i from 1). */
export function podsOf(objs: Obj[]): PodSpecIn[] {
  const pods: PodSpecIn[] = [];
  for (const o of objs) {
    const meta = rec(o.metadata);
    const name = typeof meta.name === 'string' ? meta.name : '';
    if (!name) continue;
    if (o.kind === 'Pod') pods.push(podFrom(meta, rec(o.spec), name));
    if (o.kind === 'Deployment') {
      const spec = rec(o.spec);
      const tpl = rec(spec.template);
      const tmeta = { ...rec(tpl.metadata), namespace: meta.namespace ?? 'default' };
      const replicas = typeof spec.replicas === 'number' ? spec.replicas : 1;
      for (let i = 1; i <= replicas; i++) {
        const p = podFrom(tmeta, rec(tpl.spec), `${name}-${i}`);
        p.deployment = name;
        pods.push(p);
      }
    }
  }
  return pods;
}

export function servicesOf(objs: Obj[]): ServiceIn[] {
  const out: ServiceIn[] = [];
  for (const o of objs) {
    if (o.kind !== 'Service') continue;
    const meta = rec(o.metadata);
    const spec = rec(o.spec);
    if (typeof meta.name !== 'string' || typeof spec.clusterIP !== 'string') continue;
    out.push({
      namespace: typeof meta.namespace === 'string' ? meta.namespace : 'default',
      name: meta.name,
      clusterIP: spec.clusterIP,
      selector: strMap(spec.selector),
      ports: (Array.isArray(spec.ports) ? spec.ports : []).map((p) => {
        const r = rec(p);
        const port = Number(r.port);
        const t = Number(r.targetPort);
        const out: { port: number; targetPort: number; name?: string } = {
          port,
          targetPort: t > 0 ? t : port,
        };
        if (typeof r.name === 'string') out.name = r.name;
        return out;
      }),
    });
  }
  return out;
}

/** Gives every Service without a clusterIP one from 10.96.0.0/16 (in place). */
export function assignClusterIps(objs: Obj[]): void {
  const used = new Set<string>();
  for (const o of objs) if (o.kind === 'Service') used.add(String(rec(o.spec).clusterIP ?? ''));
  let n = 10;
  for (const o of objs) {
    if (o.kind !== 'Service') continue;
    const spec = rec(o.spec);
    if (typeof spec.clusterIP === 'string' && spec.clusterIP) continue;
    let ip = '';
    do ip = `10.96.${Math.floor(n / 250)}.${(n++ % 250) + 1}`;
    while (used.has(ip));
    used.add(ip);
    o.spec = { ...spec, clusterIP: ip };
  }
}

export function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  const keys = Object.keys(selector);
  return keys.length > 0 && keys.every((k) => labels[k] === selector[k]);
}
