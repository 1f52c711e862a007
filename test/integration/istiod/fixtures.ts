/**
 * A realistic small mesh as YAML files of a configuration directory: namespaces (one ambient, one not),
 * pods on two nodes (one dual-stack), services (named target port), a waypoint (Gateway, its Service
 * and its pod), a ServiceEntry with an inline endpoint, AuthorizationPolicies (ALLOW with L4 fields,
 * DENY with HTTP parts, a mesh-wide one) and PeerAuthentication (mesh-wide STRICT, a workload policy
 * with a port-level exception).
 */
import { mkdtemp, rm, writeFile, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const MESH_FILES: Record<string, string> = {
  'namespaces.yaml': `
apiVersion: v1
kind: Namespace
metadata: { name: istio-system }
---
apiVersion: v1
kind: Namespace
metadata:
  name: demo
  labels: { istio.io/dataplane-mode: ambient }
---
apiVersion: v1
kind: Namespace
metadata: { name: legacy }
`,
  'pod-demo-web-0.yaml': pod('demo', 'web-0', 'node-1', 'web', { app: 'web' }, ['10.10.1.5']),
  'pod-demo-web-1.yaml': pod('demo', 'web-1', 'node-2', 'web', { app: 'web' }, ['10.10.2.5', 'fd00:10::5']),
  'pod-demo-client-0.yaml': pod('demo', 'client-0', 'node-1', 'client', { app: 'client' }, ['10.10.1.6']),
  'pod-demo-waypoint.yaml': pod(
    'demo',
    'waypoint-7c9d8f6b5-abcde',
    'node-2',
    'waypoint',
    { 'gateway.networking.k8s.io/gateway-name': 'waypoint' },
    ['10.10.2.9'],
  ),
  'pod-legacy-db-0.yaml': pod('legacy', 'db-0', 'node-2', 'db', { app: 'db' }, ['10.10.2.7']),
  'pod-legacy-db-1.yaml': pod('legacy', 'db-1', 'node-1', 'db', { app: 'db' }, ['10.10.1.7']),
  'services.yaml': `
apiVersion: v1
kind: Service
metadata: { name: web, namespace: demo, labels: { istio.io/use-waypoint: waypoint } }
spec:
  selector: { app: web }
  clusterIP: 10.96.0.10
  ports:
    - { name: http, port: 80, targetPort: http, appProtocol: http }
    - { name: grpc-admin, port: 9090, targetPort: 9090 }
---
apiVersion: v1
kind: Service
metadata: { name: waypoint, namespace: demo }
spec:
  selector: { gateway.networking.k8s.io/gateway-name: waypoint }
  clusterIP: 10.96.0.20
  ports: [{ name: mesh, port: 15008 }]
---
apiVersion: v1
kind: Service
metadata: { name: db, namespace: legacy }
spec:
  selector: { app: db }
  clusterIP: 10.96.0.30
  ports: [{ name: tcp-postgres, port: 5432 }]
`,
  'serviceentry.yaml': `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: external-api, namespace: demo }
spec:
  hosts: [api.example.com]
  addresses: [240.240.0.1]
  ports: [{ number: 443, name: tls, protocol: TLS }]
  location: MESH_EXTERNAL
  resolution: STATIC
  endpoints:
    - { address: 203.0.113.10, ports: { tls: 8443 }, serviceAccount: external }
`,
  'waypoint.yaml': `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: waypoint, namespace: demo, labels: { istio.io/waypoint-for: service } }
spec:
  gatewayClassName: istio-waypoint
  listeners: [{ name: mesh, port: 15008, protocol: HBONE }]
`,
  'authorizationpolicy-demo-allow-client.yaml': allowClient('ALLOW'),
  'authorizationpolicies.yaml': `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-legacy-writes, namespace: demo }
spec:
  action: DENY
  rules:
    - from: [{ source: { namespaces: [legacy] } }]
      to: [{ operation: { methods: [POST, PUT] } }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-test-net, namespace: istio-system }
spec:
  action: DENY
  rules:
    - from: [{ source: { ipBlocks: [192.0.2.0/24, "2001:db8::/32"] } }]
      when: [{ key: destination.port, notValues: ["15021"] }]
`,
  'peerauthentications.yaml': `
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: istio-system }
spec:
  mtls: { mode: STRICT }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: web-metrics, namespace: demo }
spec:
  selector: { matchLabels: { app: web } }
  mtls: { mode: STRICT }
  portLevelMtls:
    "9090": { mode: PERMISSIVE }
`,
};

/** The ALLOW policy file's text; `action` lets tests write a bad version of it. */
export function allowClient(action: string): string {
  return `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: allow-client, namespace: demo }
spec:
  selector: { matchLabels: { app: web } }
  action: ${action}
  rules:
    - from:
        - source:
            principals: [cluster.local/ns/demo/sa/client]
            namespaces: [demo]
            ipBlocks: [10.0.0.0/8]
      to: [{ operation: { ports: ["8080"] } }]
`;
}

export function pod(
  ns: string,
  name: string,
  node: string,
  sa: string,
  labels: Record<string, string>,
  ips: string[],
): string {
  return `
apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: ${ns}
  labels: ${JSON.stringify(labels)}
spec:
  nodeName: ${node}
  serviceAccountName: ${sa}
  containers:
    - name: main
      ports: [{ name: http, containerPort: 8080 }]
status:
  phase: Running
  podIP: ${ips[0]}
  podIPs: ${JSON.stringify(ips.map((ip) => ({ ip })))}
  conditions: [{ type: Ready, status: "True" }]
`;
}

/** A temporary configuration directory holding `files`. */
export async function configDir(files: Record<string, string> = MESH_FILES): Promise<{
  dir: string;
  write(name: string, text: string): Promise<void>;
  remove(name: string): Promise<void>;
  cleanup(): Promise<void>;
}> {
  const dir = await mkdtemp(join(tmpdir(), 'istiod-test-'));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return {
    dir,
    // Written as meshctl does: a hidden temporary file, then a rename (never a half-written file).
    write: async (name, text) => {
      await writeFile(join(dir, `.${name}.tmp`), text);
      await rename(join(dir, `.${name}.tmp`), join(dir, name));
    },
    remove: (name) => rm(join(dir, name)),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
