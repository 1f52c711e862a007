import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { DELTA_ADS_PATH, ADDRESS_TYPE_URL } from '../../../src/xds/type-urls.js';
import { eventually, startServer, uidOf } from './harness.js';

/**
 * An independent description of the wire, written from Istio's field numbers only (not loaded from
 * proto/), standing in for a client built from Istio's own protos.
 */
const ISTIO_PROTO = `
syntax = "proto3";
package check;
message Any { string type_url = 1; bytes value = 2; }
message Node { string id = 1; }
message Req { Node node = 1; string type_url = 2; string response_nonce = 6; }
message Resource { string version = 1; Any resource = 2; string name = 3; }
message Res { string system_version_info = 1; repeated Resource resources = 2; string type_url = 4;
  string nonce = 5; repeated string removed_resources = 6; }
message Address { oneof type { Workload workload = 1; Service service = 2; } }
message NetworkAddress { string network = 1; bytes address = 2; }
message Port { uint32 service_port = 1; uint32 target_port = 2; }
message PortList { repeated Port ports = 1; }
message Service { string name = 1; string namespace = 2; string hostname = 3;
  repeated NetworkAddress addresses = 4; repeated Port ports = 5; }
message Workload { string uid = 20; string name = 1; string namespace = 2; repeated bytes addresses = 3;
  string network = 4; int32 tunnel_protocol = 5; string trust_domain = 6; string service_account = 7;
  string node = 9; int32 workload_type = 12; map<string, PortList> services = 22;
  repeated string authorization_policies = 16; int32 status = 17; string cluster_id = 18; }
`;

test('a client built from Istio field numbers decodes what the server sends', async () => {
  const root = protobuf.parse(ISTIO_PROTO, { keepCase: true }).root;
  const Req = root.lookupType('check.Req');
  const Res = root.lookupType('check.Res');
  const Address = root.lookupType('check.Address');

  const { server, port } = await startServer();
  server.apply(ADDRESS_TYPE_URL, {
    upserts: [
      {
        name: uidOf(7),
        message: {
          workload: {
            uid: uidOf(7),
            name: 'pod-7',
            namespace: 'shop',
            addresses: [Uint8Array.of(10, 1, 2, 3)],
            network: 'net1',
            tunnelProtocol: 1,
            trustDomain: 'cluster.local',
            serviceAccount: 'reviews',
            node: 'node-a',
            workloadType: 2,
            services: {
              'shop/reviews.shop.svc.cluster.local': { ports: [{ servicePort: 80, targetPort: 8080 }] },
            },
            authorizationPolicies: ['shop/allow-frontend'],
            status: 1,
            clusterId: 'Kubernetes',
          },
        },
      },
      {
        name: 'shop/reviews.shop.svc.cluster.local',
        message: {
          service: {
            name: 'reviews',
            namespace: 'shop',
            hostname: 'reviews.shop.svc.cluster.local',
            addresses: [{ network: 'net1', address: Uint8Array.of(10, 96, 0, 10) }],
            ports: [{ servicePort: 80, targetPort: 8080 }],
          },
        },
      },
    ],
    removals: [],
  });
  server.flushNow();

  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const call = client.makeBidiStreamRequest(
    DELTA_ADS_PATH,
    (m: object) => Buffer.from(Req.encode(Req.fromObject(m)).finish()),
    (b: Buffer) => b,
  );
  const frames: Buffer[] = [];
  call.on('data', (b: Buffer) => frames.push(b));
  call.on('error', () => {});
  try {
    call.write({
      node: { id: 'ztunnel~10.0.0.3~zt-x.istio-system~istio-system.svc.cluster.local' },
      type_url: ADDRESS_TYPE_URL,
    });
    await eventually(() => frames.length === 1);
    const res = Res.toObject(Res.decode(frames[0] ?? Buffer.alloc(0)), { defaults: true }) as {
      type_url: string;
      nonce: string;
      resources: Array<{ name: string; version: string; resource: { type_url: string; value: Uint8Array } }>;
    };
    assert.equal(res.type_url, ADDRESS_TYPE_URL);
    assert.ok(res.nonce.length > 0);
    const byName = new Map(res.resources.map((r) => [r.name, r]));
    const wr = byName.get(uidOf(7));
    assert.ok(wr && wr.version.length > 0);
    assert.equal(wr.resource.type_url, ADDRESS_TYPE_URL);
    const w = (
      Address.toObject(Address.decode(wr.resource.value), { enums: Number }) as {
        workload: Record<string, unknown>;
      }
    ).workload;
    assert.equal(w.uid, uidOf(7));
    assert.equal(w.name, 'pod-7');
    assert.equal(w.namespace, 'shop');
    assert.deepEqual(
      (w.addresses as Uint8Array[]).map((a) => [...a]),
      [[10, 1, 2, 3]],
    );
    assert.equal(w.network, 'net1');
    assert.equal(w.tunnel_protocol, 1);
    assert.equal(w.trust_domain, 'cluster.local');
    assert.equal(w.service_account, 'reviews');
    assert.equal(w.node, 'node-a');
    assert.equal(w.workload_type, 2);
    assert.deepEqual(w.authorization_policies, ['shop/allow-frontend']);
    assert.equal(w.status, 1);
    assert.equal(w.cluster_id, 'Kubernetes');
    const services = w.services as Record<
      string,
      { ports: Array<{ service_port: number; target_port: number }> }
    >;
    assert.deepEqual(services['shop/reviews.shop.svc.cluster.local']?.ports, [
      { service_port: 80, target_port: 8080 },
    ]);

    const sr = byName.get('shop/reviews.shop.svc.cluster.local');
    const s = (
      Address.toObject(Address.decode(sr?.resource.value ?? new Uint8Array(0))) as {
        service: { hostname: string; addresses: Array<{ network: string; address: Uint8Array }> };
      }
    ).service;
    assert.equal(s.hostname, 'reviews.shop.svc.cluster.local');
    assert.equal(s.addresses[0]?.network, 'net1');
    assert.deepEqual([...(s.addresses[0]?.address ?? [])], [10, 96, 0, 10]);
  } finally {
    call.cancel();
    client.close();
    await server.stop();
  }
});
