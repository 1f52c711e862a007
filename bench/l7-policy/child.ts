/**
 * The measured process: the L7 engine behind a plain TCP listener (standing in for the HBONE
 * listener), forwarding to the backend the parent runs, with one policy variant. Prints its port, then
 * answers "cpu" on stdin with its own CPU time (µs), so the parent measures this process alone.
 */
import net, { type AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { silentLogger } from '../../src/common/logger.js';
import { L7Engine } from '../../src/l7/engine.js';
import { security, type Variant } from './variants.js';

const [variant, backendPort, jwks] = [
  process.argv[2] as Variant,
  Number(process.argv[3]),
  process.argv[4] ?? '',
];
const engine = new L7Engine({
  connector: {
    connect: (ep) =>
      new Promise((resolve, reject) => {
        const s = net.connect(ep.port, ep.ip, () => resolve(s));
        s.once('error', reject);
      }),
  },
  log: silentLogger(),
  registry: new Registry(),
  reporter: 'waypoint',
  accessLog: false,
});
const sec = security(variant, jwks);
engine.update({
  proxy: 'bookinfo/waypoint',
  services: [
    {
      namespace: 'bookinfo',
      name: 'reviews',
      hostname: 'reviews.bookinfo.svc.cluster.local',
      vips: ['10.96.0.10'],
      ports: [{ port: 9080, targetPort: 9080, protocol: 'http', defaultCluster: 'reviews' }],
      ...(sec ? { security: sec } : {}),
    },
  ],
  clusters: [
    {
      name: 'reviews',
      service: 'reviews.bookinfo.svc.cluster.local',
      port: 9080,
      lb: { kind: 'LEAST_REQUEST' },
      upstream: 'http1',
      endpoints: [
        {
          ip: '127.0.0.1',
          port: backendPort,
          identity: '',
          hbone: false,
          workload: 'reviews-v1',
          namespace: 'bookinfo',
        },
      ],
    },
  ],
});
const front = net.createServer((s) =>
  engine.serve(s, {
    targetIp: '10.96.0.10',
    targetPort: 9080,
    sourceIp: '10.244.1.5',
    sourcePort: s.remotePort ?? 0,
    sourcePrincipal: 'spiffe://cluster.local/ns/default/sa/curl',
    mtls: true,
  }),
);
front.listen(0, '127.0.0.1', () => process.stdout.write(`${(front.address() as AddressInfo).port}\n`));
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d: string) => {
  if (d.includes('cpu')) {
    const u = process.cpuUsage();
    process.stdout.write(`${u.user + u.system}\n`);
  }
  if (d.includes('exit')) process.exit(0);
});
