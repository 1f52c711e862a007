/**
 * The measured process: the real waypoint (src/waypoint/app.ts: HBONE server, L7 engine, HBONE pool
 * out) from a given build, configured directly (no istiod) with one HTTP service whose endpoint is the
 * server-side ztunnel's pod address. `<dist root>` lets one run compare two builds (e.g. main's and a
 * branch's) in the same process layout: every waypoint module is imported from there.
 * Usage: waypoint-child.js <dist root> <pem dir> <waypoint ip> <service vip> <endpoint ip> <endpoint port>
 *        <access log on|off>
 */
import { pathToFileURL } from 'node:url';
import { join, resolve } from 'node:path';
import { onStop } from '../hbone/child.js';
import { readMaterials, spiffeOf } from './materials.js';

const [root = '', dir = '', wpIp = '', vip = '', epIp = '', epPort = '', accessLog = 'on'] =
  process.argv.slice(2);
const from = <T>(p: string): Promise<T> => import(pathToFileURL(join(resolve(root), p)).href) as Promise<T>;

/* eslint-disable @typescript-eslint/no-explicit-any -- modules of another build, typed loosely */
const { Waypoint } = await from<any>('src/waypoint/app.js');
const { waypointSchema, WAYPOINT_LOG_BATCH_MS } = await from<any>('src/waypoint/config.js');
const { parseConfig } = await from<any>('src/common/config.js');
const { createLogger } = await from<any>('src/common/logger.js');
const { Credentials, CertSlot } = await from<any>('src/hbone/credentials.js');
const { Registry } = await import('prom-client');

const m = readMaterials(dir, 'waypoint');
const certs = new CertSlot(new Credentials(m.key, m.chain, [m.root]));
// As the waypoint's entry makes it (a build without log batching ignores batchMs): JSON lines on
// stdout, which the runner pipes into a log-file writer process as the local cluster's kubelet does.
const logger = createLogger({ component: 'waypoint', level: 'info', batchMs: WAYPOINT_LOG_BATCH_MS });

const { config } = parseConfig(waypointSchema, [], {});
const wp = new Waypoint(
  { ...config, podIp: wpIp, metricsPort: 0, readinessPort: 0, accessLog: accessLog === 'on' },
  { logger, registry: new Registry(), certs },
);
await wp.start({ watchXds: false });
wp.apply({
  proxy: 'default/waypoint',
  services: [
    {
      namespace: 'default',
      name: 'echo',
      hostname: 'echo.default.svc.cluster.local',
      vips: [vip],
      ports: [{ port: 80, targetPort: Number(epPort), protocol: 'http', defaultCluster: 'echo' }],
    },
  ],
  clusters: [
    {
      name: 'echo',
      service: 'echo.default.svc.cluster.local',
      port: 80,
      lb: { kind: 'LEAST_REQUEST' },
      upstream: 'http1',
      endpoints: [
        {
          ip: epIp,
          port: Number(epPort),
          identity: spiffeOf('server'),
          hbone: true,
          workload: 'echo',
          namespace: 'default',
          app: 'echo',
          version: 'v1',
        },
      ],
    },
  ],
});
process.send?.({ type: 'ready', port: wp.ports.hbone });
onStop(() => void wp.stop());
