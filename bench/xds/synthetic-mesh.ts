/**
 * A synthetic cluster as configuration objects (what a user or the Kubernetes API would give istiod):
 * 50 ambient namespaces, N pods on 50 nodes, N/10 Services (10 pods each), N/20 AuthorizationPolicies.
 * MemorySource serves them to Istiod like any ConfigSource, so the benchmark runs the whole path:
 * source -> ConfigStore -> AmbientIndex -> DeltaXdsServer.
 */
import { SourceBase } from '../../src/istiod/config/source.js';
import { keyOf, type ConfigObject, type Pod } from '../../src/istiod/config/types.js';

export interface MeshScale {
  pods: number;
  services: number;
  policies: number;
}

const NAMESPACES = 50;

function ip(a: number, i: number): string {
  return `10.${a}.${(i >> 8) & 255}.${i & 255}`;
}

export function syntheticPod(i: number, scale: MeshScale, revision: number): Pod {
  const svc = i % scale.services;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `app-${i}-7d9f8c6b5-x2k4p`,
      namespace: `ns-${svc % NAMESPACES}`,
      labels: {
        app: `svc-${svc}`,
        'pod-template-hash': '7d9f8c6b5',
        'service.istio.io/canonical-revision': `v${revision}`,
      },
    },
    spec: {
      nodeName: `node-${i % 50}`,
      serviceAccountName: `svc-${svc}`,
      containers: [{ name: 'app', ports: [{ name: 'http', containerPort: 8080 }] }],
    },
    status: {
      phase: 'Running',
      podIP: ip(244, i),
      conditions: [{ type: 'Ready', status: 'True' }],
    },
  };
}

export function syntheticMesh(scale: MeshScale): ConfigObject[] {
  const out: ConfigObject[] = [];
  for (let n = 0; n < NAMESPACES; n++) {
    out.push({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: `ns-${n}`, labels: { 'istio.io/dataplane-mode': 'ambient' } },
    });
  }
  for (let i = 0; i < scale.pods; i++) out.push(syntheticPod(i, scale, 0));
  for (let s = 0; s < scale.services; s++) {
    out.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: `svc-${s}`, namespace: `ns-${s % NAMESPACES}` },
      spec: {
        selector: { app: `svc-${s}` },
        clusterIP: ip(96, s),
        ports: [
          { name: 'http', port: 80, targetPort: 'http' },
          { name: 'grpc-metrics', port: 9090, targetPort: 9090 },
        ],
      },
    });
  }
  for (let p = 0; p < scale.policies; p++) {
    out.push({
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: `allow-${p}`, namespace: `ns-${p % NAMESPACES}` },
      spec: {
        selector: { matchLabels: { app: `svc-${p % scale.services}` } },
        action: 'ALLOW',
        rules: [
          {
            from: [{ source: { principals: [`cluster.local/ns/ns-${(p + 1) % 50}/sa/svc-${p}`] } }],
            to: [{ operation: { ports: ['8080'] } }],
          },
        ],
      },
    });
  }
  return out;
}

/** An in-memory ConfigSource: serves the given objects at start, then whatever `change` is given. */
export class MemorySource extends SourceBase {
  readonly name = 'memory (benchmark)';

  constructor(private readonly initial: ConfigObject[]) {
    super();
  }

  start(): Promise<void> {
    for (const o of this.initial) this.put(keyOf(o), o);
    this.markSynced();
    return Promise.resolve();
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }

  change(o: ConfigObject): void {
    this.put(keyOf(o), o);
  }
}
