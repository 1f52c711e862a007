/**
 * The table of meshctl commands. Each command lives in its own module, loaded only when run.
 */
export interface Command {
  name: string;
  summary: string;
  run(argv: string[]): Promise<number>;
}

export const COMMANDS: readonly Command[] = [
  {
    name: 'apply',
    summary: 'validate and store objects from a YAML/JSON file (-f FILE)',
    run: async (argv) => (await import('./apply.js')).run(argv),
  },
  {
    name: 'delete',
    summary: 'remove the objects named in a file (-f FILE), or KIND NAME',
    run: async (argv) => (await import('./delete.js')).run(argv),
  },
  {
    name: 'get',
    summary: 'list objects of a kind (-n NS | -A, -o yaml|json)',
    run: async (argv) => (await import('./get.js')).run(argv),
  },
  {
    name: 'label',
    summary: 'set or remove labels, e.g. label namespace demo istio.io/dataplane-mode=ambient',
    run: async (argv) => (await import('./label.js')).run(argv),
  },
  {
    name: 'waypoint',
    summary:
      'waypoints: apply -n NS [--name N] [--for service|workload|all] [--enroll-namespace] [--wait] | list | status | delete',
    run: async (argv) => (await import('./waypoint.js')).run(argv),
  },
  {
    name: 'gateway',
    summary: 'ingress gateways (class istio): list | url NAME -n NS (the $GATEWAY_URL to curl from the host)',
    run: async (argv) => (await import('./gateway.js')).run(argv),
  },
  {
    name: 'ztunnel-config',
    summary:
      'what ztunnel holds: workloads|services|policies|certificates|all [--node N], from its admin port',
    run: async (argv) => (await import('./ztunnel-config.js')).run(argv),
  },
  {
    name: 'proxy-status',
    summary: 'proxies connected to istiod (ztunnels, waypoints) and whether each is in sync',
    run: async (argv) => (await import('./proxy-status.js')).run(argv),
  },
  {
    name: 'node-token',
    summary: "create a bootstrap token for a node proxy (recorded in istiod's node token file)",
    run: async (argv) => (await import('./node-token.js')).run(argv),
  },
  {
    name: 'demo',
    summary: 'two proxies tunnel a request over HBONE (mutual TLS, SPIFFE identities) on loopback',
    run: async (argv) => (await import('./demo.js')).run(argv),
  },
  {
    name: 'install',
    summary: 'install the mesh on a Kubernetes cluster (server-side apply; --dry-run prints the manifests)',
    run: async (argv) => (await import('./install.js')).runInstall(argv),
  },
  {
    name: 'uninstall',
    summary: 'remove the mesh from a Kubernetes cluster (--purge: the Istio CRDs too)',
    run: async (argv) => (await import('./install.js')).runUninstall(argv),
  },
  {
    name: 'up',
    summary: 'start the local cluster (namespaces, capture, istiod, ztunnels) and run the demo',
    run: async (argv) => (await import('./up.js')).run(argv),
  },
  {
    name: 'down',
    summary: 'stop the local cluster and remove everything it created',
    run: async (argv) => (await import('./down.js')).run(argv),
  },
  {
    name: 'exec',
    summary: 'run a program in a pod of the local cluster: exec default/curl -- curl http://echo:8080/',
    run: async (argv) => (await import('./exec.js')).run(argv),
  },
  {
    name: 'bench',
    summary: 'local cluster benchmark: no mesh vs ambient L4 at 1000 req/s, bulk, ztunnel CPU/memory',
    run: async (argv) => (await import('./bench.js')).run(argv),
  },
  {
    name: 'status',
    summary: 'nodes, pods, services and ztunnels of the local cluster',
    run: async (argv) => (await import('./status.js')).run(argv),
  },
  {
    name: 'rollout',
    summary:
      'rollout restart ztunnel [--node N] | deployment NAME -n NS: replace ztunnels without refusing a connection, or recreate pods',
    run: async (argv) => (await import('./rollout.js')).run(argv),
  },
];
