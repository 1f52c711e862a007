import http from 'node:http';
import type { LevelWithSilent } from 'pino';
import { runCli } from '../common/cli.js';
import { parsers } from '../common/config.js';
import { MeshError } from '../common/errors.js';
import { createLogger } from '../common/logger.js';
import { loadKubeConfig } from '../istiod/config/kube-client.js';
import { NodeAgent } from './agent.js';

const USAGE = `Usage: node-agent --node-name NODE [options]

The node agent of the ambient mesh on Kubernetes (one per node, DaemonSet meshlite-node-agent):
follows the node's pods and the namespaces through the API, finds the network namespace of each pod in
the mesh (namespace or pod labelled istio.io/dataplane-mode=ambient) from the node's /proc, hands it to
the node's ztunnel over its capture socket, and annotates the pod ambient.istio.io/redirection=enabled.
On every (re)connection to a ztunnel it sends its whole snapshot. GET /readyz on the readiness port
answers 200 once the pods are listed and a ztunnel is connected.`;

const schema = {
  nodeName: {
    flag: 'node-name',
    env: 'NODE_NAME',
    doc: 'the node whose pods this agent serves',
    default: '',
    parse: parsers.string,
  },
  ztunnelSocket: {
    flag: 'ztunnel-socket',
    env: 'ZTUNNEL_SOCKET',
    doc: "the node's ztunnel capture socket",
    default: '/var/run/ztunnel/ztunnel.sock',
    parse: parsers.string,
  },
  netnsDir: {
    flag: 'netns-dir',
    env: 'NETNS_DIR',
    doc: "the node's network namespace directory (as mounted)",
    default: '/var/run/netns',
    parse: parsers.string,
  },
  procDir: {
    flag: 'proc-dir',
    env: 'PROC_DIR',
    doc: "the node's /proc (as mounted)",
    default: '/proc',
    parse: parsers.string,
  },
  excludeNamespaces: {
    flag: 'exclude-namespaces',
    env: 'EXCLUDE_NAMESPACES',
    doc: 'namespaces never put in the mesh (comma-separated)',
    default: ['kube-system'],
    parse: parsers.list,
  },
  kubeconfig: {
    flag: 'kubeconfig',
    env: 'NODE_AGENT_KUBECONFIG',
    doc: 'kubeconfig file; empty: the in-cluster service account',
    default: '',
    parse: parsers.string,
  },
  readinessPort: {
    flag: 'readiness-port',
    doc: 'GET /readyz here (0: none)',
    default: 8000,
    parse: parsers.port,
  },
  logLevel: { flag: 'log-level', env: 'LOG_LEVEL', doc: 'log level', default: 'info', parse: parsers.string },
};

await runCli({
  name: 'node-agent',
  usage: USAGE,
  schema,
  main: async (c) => {
    if (!c.nodeName)
      throw new MeshError(
        'CFG_ERR_INVALID',
        '--node-name (NODE_NAME) is required: the node this agent serves',
      );
    const log = createLogger({ component: 'node-agent', level: c.logLevel as LevelWithSilent });
    const agent = new NodeAgent({
      kc: loadKubeConfig(c.kubeconfig || undefined),
      nodeName: c.nodeName,
      ztunnelSocket: c.ztunnelSocket,
      procDir: c.procDir,
      netnsDir: c.netnsDir,
      excludeNamespaces: c.excludeNamespaces,
      log,
    });
    agent.start();
    const ready = http.createServer((req, res) => {
      const ok = req.url === '/readyz' && agent.ready;
      res.writeHead(ok ? 200 : 503).end(ok ? 'ready\n' : 'not ready\n');
    });
    if (c.readinessPort) ready.listen(c.readinessPort);
    log.info({ node: c.nodeName, socket: c.ztunnelSocket }, 'node agent started');
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        log.info('node agent stopping (pods keep their rules; a new agent takes them over)');
        ready.close();
        void agent.stop().then(resolve);
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
    return 0;
  },
});
