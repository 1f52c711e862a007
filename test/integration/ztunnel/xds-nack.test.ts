import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { parseConfig } from '../../../src/common/config.js';
import { DeltaXdsServer } from '../../../src/istiod/xds/delta-server.js';
import { ADDRESS_TYPE_URL } from '../../../src/xds/type-urls.js';
import { TunnelProtocol } from '../../../src/xds/workload-types.js';
import { createRootCa } from '../../../src/pki/ca.js';
import { Ztunnel } from '../../../src/ztunnel/app.js';
import { LocalIdentities } from '../../../src/ztunnel/identity.js';
import { ztunnelSchema } from '../../../src/ztunnel/config.js';
import { captureLogger, until } from '../hbone/fixtures.js';

test('a malformed xDS resource is NACKed with its field path while the rest of the update applies', async (t) => {
  const registry = new Registry();
  const server = new DeltaXdsServer({
    host: '127.0.0.1',
    port: 0,
    registry,
    debounce: { quietMs: 5, maxMs: 50 },
  });
  const port = await server.start();
  t.after(() => server.stop(100));
  server.apply(ADDRESS_TYPE_URL, {
    upserts: [
      {
        name: 'Kubernetes//Pod/default/good',
        message: {
          workload: {
            uid: 'Kubernetes//Pod/default/good',
            name: 'good',
            namespace: 'default',
            addresses: [new Uint8Array([127, 79, 1, 2])],
            node: 'node-1',
            tunnelProtocol: TunnelProtocol.HBONE,
          },
        },
      },
      {
        name: 'Kubernetes//Pod/default/bad',
        message: {
          workload: {
            uid: 'Kubernetes//Pod/default/bad',
            name: 'bad',
            namespace: 'default',
            addresses: [new Uint8Array([1, 2, 3, 4, 5])],
            node: 'node-1',
          },
        },
      },
    ],
    removals: [],
  });
  const logs = captureLogger();
  const { config } = parseConfig(ztunnelSchema, [], {});
  const zt = new Ztunnel(
    {
      ...config,
      nodeName: 'node-1',
      nodeIp: '127.79.1.1',
      xdsAddress: `127.0.0.1:${port}`,
      adminPort: 0,
      metricsPort: 0,
      readinessPort: 0,
      socks5Port: 0,
      dnsPort: 0,
    },
    { logger: logs.logger, registry: new Registry(), identities: new LocalIdentities(createRootCa()) },
  );
  await zt.start();
  t.after(() => zt.shutdown(100));
  await until(
    () => zt.store.workloadByUid('Kubernetes//Pod/default/good') !== undefined,
    5000,
    'the valid workload',
  );
  assert.equal(zt.store.workloadByUid('Kubernetes//Pod/default/bad'), undefined);
  await until(
    () => logs.lines.some((l) => l.msg === 'xds response rejected (NACK)'),
    3000,
    'the NACK log line',
  );
  const nack = logs.lines.find((l) => l.msg === 'xds response rejected (NACK)')!;
  assert.match(
    JSON.stringify(nack.errors),
    /Kubernetes\/\/Pod\/default\/bad: workload\.addresses\[0\]: 5 bytes is not an IPv4 \(4\) or IPv6 \(16\) address/,
  );
  const text = await registry.metrics();
  assert.match(text, /pilot_total_xds_rejects\{type="address"\} 1/);
});
