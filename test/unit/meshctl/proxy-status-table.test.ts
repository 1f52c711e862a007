import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildVersion, joinSyncViews, proxyStatusTable } from '../../../src/meshctl/proxy-status-table.js';

const syncz = [
  { proxy: 'ztunnel-b.istio-system', connectionId: 'c2', synced: false, queued: 3, acks: 5, nacks: 1 },
  { proxy: 'ztunnel-a.istio-system', connectionId: 'c1', synced: true, queued: 0, acks: 2, nacks: 0 },
];
const adsz = {
  totalClients: 2,
  clients: [
    { connectionId: 'c1', proxy: 'ztunnel-a.istio-system', type: 'ztunnel', ip: '10.0.0.1' },
    {
      connectionId: 'c2',
      proxy: 'ztunnel-b.istio-system',
      type: 'ztunnel',
      ip: '10.0.0.2',
      clusterId: 'east',
    },
  ],
};

test('syncz and adsz join by connection; the table is sorted, SYNCED or STALE with the queue', () => {
  const proxies = joinSyncViews(syncz, adsz);
  const t = proxyStatusTable([{ istiod: '127.0.0.1:15014', version: '0.1.0', proxies }]);
  assert.deepEqual(t.headers, [
    'NAME',
    'CLUSTER',
    'TYPE',
    'IP',
    'STATUS',
    'ACKS',
    'NACKS',
    'ISTIOD',
    'VERSION',
  ]);
  assert.deepEqual(t.rows, [
    ['ztunnel-a.istio-system', '-', 'ztunnel', '10.0.0.1', 'SYNCED', '2', '0', '127.0.0.1:15014', '0.1.0'],
    [
      'ztunnel-b.istio-system',
      'east',
      'ztunnel',
      '10.0.0.2',
      'STALE (3 queued)',
      '5',
      '1',
      '127.0.0.1:15014',
      '0.1.0',
    ],
  ]);
  assert.deepEqual(
    proxyStatusTable([{ istiod: 'i', version: '', proxies }], '-b.').rows.map((r) => [r[0], r[8]]),
    [['ztunnel-b.istio-system', '-']],
  );
});

test('without adsz the sync state still shows; odd bodies give no rows', () => {
  const proxies = joinSyncViews(syncz, undefined);
  assert.deepEqual(
    proxies.map((p) => [p.proxy, p.synced, p.type]),
    [
      ['ztunnel-b.istio-system', false, ''],
      ['ztunnel-a.istio-system', true, ''],
    ],
  );
  assert.deepEqual(joinSyncViews({ not: 'a list' }, adsz), []);
});

test("istiod's version is the tag of istio_build in its metrics", () => {
  const text = [
    '# HELP istio_build Istio component build info',
    '# TYPE istio_build gauge',
    'istio_build{component="istiod",tag="1.2.3"} 1',
    'process_cpu_seconds_total 0.5',
  ].join('\n');
  assert.equal(buildVersion(text), '1.2.3');
  assert.equal(buildVersion('process_cpu_seconds_total 0.5\n'), '');
});
