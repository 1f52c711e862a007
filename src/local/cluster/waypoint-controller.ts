/**
 * The local cluster's gateway controller for waypoints (what istiod's controller does in Kubernetes):
 * for each Gateway of class `istio-waypoint` it writes a Deployment and a Service named like the Gateway
 * (service account = the Gateway name, so the identity is spiffe://<td>/ns/<ns>/sa/<name>), a bootstrap
 * token for the waypoint's certificate, and the Gateway's `status` (addresses; Accepted; Programmed once
 * the waypoint has its configuration). Objects it generated are removed with their Gateway.
 */
import { readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { stringify } from 'yaml';
import { addNodeToken, removeNodeToken } from '../../istiod/ca/local-tokens.js';
import { isRouteKind, routeStatus, routeWorld, statusTime } from '../../istiod/l7/route-status.js';
import { readObjects, type Obj } from './manifests.js';
import { writePolicyStatus } from './policy-status.js';
import { condition } from '../../common/conditions.js';
import { writeFileAtomic } from '../../common/atomic-file.js';

export const GENERATED_BY = 'meshlite.io/generated-by';
const CONTROLLER = 'waypoint-controller';

export interface WaypointControllerOptions {
  configDir: string;
  stateDir: string;
  logsDir: string;
  /** istiod's node token file (the waypoint's token is added there). */
  tokensFile: string;
  /** istiod's plaintext xDS + CA address. */
  xdsAddress: string;
  /** The node binary for the waypoint container's command (the sources are $(MESHLITE_DIST)). */
  execPath: string;
}

const rec = (v: unknown): Record<string, unknown> =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

function isWaypointGateway(o: Obj): boolean {
  const spec = rec(o.spec);
  const listeners = Array.isArray(spec.listeners) ? spec.listeners.map(rec) : [];
  return (
    o.kind === 'Gateway' &&
    spec.gatewayClassName === 'istio-waypoint' &&
    listeners.some((l) => l.port === 15008 && l.protocol === 'HBONE')
  );
}

const fileName = (kind: string, ns: string, name: string): string =>
  `${kind.toLowerCase()}-${ns}-${name}.yaml`;

export class WaypointController {
  constructor(private readonly o: WaypointControllerOptions) {}

  tokenFile(ns: string, name: string): string {
    return join(this.o.stateDir, `waypoint-${ns}-${name}.token`);
  }

  /** The Deployment and Service of a waypoint Gateway. */
  desired(ns: string, name: string): Obj[] {
    const labels = { 'gateway.networking.k8s.io/gateway-name': name };
    const annotations = { [GENERATED_BY]: CONTROLLER, 'meshlite.io/gateway': `${ns}/${name}` };
    const deployment: Obj = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: ns, labels, annotations },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: name,
            containers: [
              {
                name: 'istio-proxy',
                image: 'meshlite/waypoint',
                command: [this.o.execPath, '$(MESHLITE_DIST)/waypoint/main.js'],
                args: [
                  '--name',
                  name,
                  '--namespace',
                  ns,
                  '--pod-name',
                  '$(POD_NAME)',
                  '--pod-ip',
                  '$(POD_IP)',
                  '--xds-address',
                  this.o.xdsAddress,
                  '--token-file',
                  this.tokenFile(ns, name),
                ],
                ports: [{ containerPort: 15008 }, { containerPort: 15020 }, { containerPort: 15021 }],
              },
            ],
          },
        },
      },
    };
    const service: Obj = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace: ns, labels, annotations },
      spec: {
        selector: labels,
        ports: [
          { name: 'mesh', port: 15008, targetPort: 15008, appProtocol: 'all' },
          { name: 'status-port', port: 15021, targetPort: 15021 },
        ],
      },
    };
    return [deployment, service];
  }

  /** One pass; returns true when it wrote or removed something. */
  async reconcile(): Promise<boolean> {
    const all = await readObjects(this.o.configDir);
    const gateways = all.filter((x) => isWaypointGateway(x.obj));
    const wanted = new Set<string>();
    let changed = false;
    for (const { file, obj } of gateways) {
      const meta = rec(obj.metadata);
      const ns = typeof meta.namespace === 'string' ? meta.namespace : 'default';
      const name = String(meta.name);
      wanted.add(`${ns}/${name}`);
      await this.ensureToken(ns, name);
      for (const d of this.desired(ns, name)) {
        const f = fileName(String(d.kind), ns, name);
        const existing = all.find((x) => x.file === f);
        const mine = rec(rec(existing?.obj.metadata).annotations)[GENERATED_BY] === CONTROLLER;
        if (existing && !mine) continue; // a user's object of that name: leave it alone
        // The cluster assigns the Service its VIP: keep it.
        const ip = rec(existing?.obj.spec).clusterIP;
        if (d.kind === 'Service' && typeof ip === 'string') d.spec = { ...rec(d.spec), clusterIP: ip };
        if (existing && isDeepStrictEqual(existing.obj, d)) continue;
        await writeFileAtomic(join(this.o.configDir, f), stringify(d));
        changed = true;
      }
      if (await this.writeStatus(file, obj, ns, name, all.filter((x) => x.obj === obj).length === 1))
        changed = true;
    }
    if (await this.routeStatus(all)) changed = true;
    if (await writePolicyStatus(this.o.configDir, all)) changed = true;
    for (const { file, obj } of all) {
      const ann = rec(rec(obj.metadata).annotations);
      if (ann[GENERATED_BY] !== CONTROLLER || wanted.has(String(ann['meshlite.io/gateway']))) continue;
      await unlink(join(this.o.configDir, file)).catch(() => undefined);
      const [ns, name] = String(ann['meshlite.io/gateway']).split('/');
      await rm(this.tokenFile(ns!, name!), { force: true });
      await removeNodeToken(this.o.tokensFile, `waypoint/${ns}/${name}`);
      changed = true;
    }
    return changed;
  }

  /** Route status for Service and ingress Gateway parents (shared with istiod's Kubernetes writer: istiod/l7/route-status.ts). */
  private async routeStatus(all: Array<{ file: string; obj: Obj }>): Promise<boolean> {
    const world = routeWorld(all.map((x) => x.obj));
    const now = statusTime();
    let changed = false;
    for (const { file, obj } of all) {
      if (!isRouteKind(obj.kind)) continue;
      if (all.filter((x) => x.file === file).length !== 1) continue;
      const status = routeStatus(obj, world, now);
      if (!status) continue;
      await writeFileAtomic(join(this.o.configDir, file), stringify({ ...obj, status }));
      changed = true;
    }
    return changed;
  }

  private async ensureToken(ns: string, name: string): Promise<void> {
    const path = this.tokenFile(ns, name);
    try {
      await readFile(path);
      return;
    } catch {
      /* not yet */
    }
    const identity = { trustDomain: 'cluster.local', namespace: ns, serviceAccount: name };
    // `node` names the holder in istiod's token file; a waypoint asks only for its own identity.
    const token = await addNodeToken(this.o.tokensFile, { node: `waypoint/${ns}/${name}`, identity });
    await writeFile(path, token, { mode: 0o600 });
  }

  /** Whether the waypoint process logged that it applied a configuration from istiod. */
  private async programmed(ns: string, name: string): Promise<boolean> {
    try {
      const log = await readFile(join(this.o.logsDir, `pod-${ns}-${name}-1.log`), 'utf8');
      return log.includes('waypoint configuration applied');
    } catch {
      return false;
    }
  }

  private async writeStatus(
    file: string,
    obj: Obj,
    ns: string,
    name: string,
    alone: boolean,
  ): Promise<boolean> {
    if (!alone) return false;
    const ready = await this.programmed(ns, name);
    const old = rec(obj.status);
    const oldConds = Array.isArray(old.conditions) ? old.conditions.map(rec) : [];
    const cond = (type: string, ok: boolean, reason: string, message: string) =>
      condition(oldConds, type, ok, reason, message);
    const status = {
      addresses: [{ type: 'Hostname', value: `${name}.${ns}.svc.cluster.local` }],
      conditions: [
        cond('Accepted', true, 'Accepted', 'Resource accepted'),
        ready
          ? cond(
              'Programmed',
              true,
              'Programmed',
              'Resource programmed, assigned to service(s) ' + `${name}.${ns}.svc.cluster.local:15008`,
            )
          : cond(
              'Programmed',
              false,
              'Pending',
              'waiting for the waypoint pod to start and get its configuration',
            ),
      ],
    };
    if (isDeepStrictEqual(old, status)) return false;
    await writeFileAtomic(join(this.o.configDir, file), stringify({ ...obj, status }));
    return true;
  }
}
