/**
 * gRPC through the L7 engine: a real grpc-js client and server (h2c both ways), the response message
 * and the trailers (`grpc-status`, `grpc-message`) forwarded, gRPC labels in the metrics.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { L7Engine } from '../../../src/l7/engine.js';
import { silentLogger } from '../../../src/common/logger.js';

const identity = (b: Buffer): Buffer => b;
const SERVICE: grpc.ServiceDefinition = {
  Echo: {
    path: '/test.Echo/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

let server: grpc.Server;
let engine: L7Engine;
let front: net.Server;
let frontPort = 0;
const registry = new Registry();

before(async () => {
  server = new grpc.Server();
  server.addService(SERVICE, {
    Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const text = call.request.toString();
      if (text === 'fail') cb({ code: grpc.status.NOT_FOUND, details: 'no such thing' });
      else cb(null, Buffer.from(`echo:${text}:${String(call.metadata.get('x-user')[0] ?? '')}`));
    },
  });
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
  );
  engine = new L7Engine({
    connector: {
      connect: (ep) =>
        new Promise((resolve, reject) => {
          const s = net.connect(ep.port, ep.ip, () => resolve(s));
          s.once('error', reject);
        }),
    },
    log: silentLogger(),
    registry,
    reporter: 'waypoint',
  });
  engine.update({
    proxy: 'test/waypoint',
    services: [
      {
        namespace: 'test',
        name: 'echo',
        hostname: 'echo.test.svc.cluster.local',
        vips: ['10.96.0.20'],
        ports: [{ port: 9090, targetPort: port, protocol: 'grpc', defaultCluster: 'c' }],
      },
    ],
    clusters: [
      {
        name: 'c',
        service: 'echo.test.svc.cluster.local',
        port: 9090,
        lb: { kind: 'ROUND_ROBIN' },
        upstream: 'http2',
        endpoints: [
          { ip: '127.0.0.1', port, identity: '', hbone: false, workload: 'echo', namespace: 'test' },
        ],
      },
    ],
  });
  front = net.createServer((s) =>
    engine.serve(s, {
      targetIp: '10.96.0.20',
      targetPort: 9090,
      sourceIp: '127.0.0.1',
      sourcePort: s.remotePort ?? 0,
      sourcePrincipal: 'spiffe://cluster.local/ns/test/sa/client',
      mtls: true,
    }),
  );
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  frontPort = (front.address() as AddressInfo).port;
});

after(async () => {
  engine.close();
  front.close();
  await new Promise<void>((r) => server.tryShutdown(() => r()));
});

test('a unary gRPC call and a gRPC error status pass through the engine', async () => {
  const Client = grpc.makeGenericClientConstructor(SERVICE, 'Echo');
  const client = new Client(
    `127.0.0.1:${frontPort}`,
    grpc.credentials.createInsecure(),
  ) as unknown as grpc.Client & {
    Echo: (req: Buffer, md: grpc.Metadata, cb: (err: grpc.ServiceError | null, res?: Buffer) => void) => void;
  };
  const md = new grpc.Metadata();
  md.set('x-user', 'jason');
  const ok = await new Promise<string>((res, rej) =>
    client.Echo(Buffer.from('hi'), md, (e, r) => (e ? rej(e) : res(String(r)))),
  );
  assert.equal(ok, 'echo:hi:jason');
  const err = await new Promise<grpc.ServiceError>((res) =>
    client.Echo(Buffer.from('fail'), new grpc.Metadata(), (e) => res(e!)),
  );
  assert.equal(err.code, grpc.status.NOT_FOUND);
  assert.equal(err.details, 'no such thing');
  client.close();
  const metrics = await registry.getSingleMetricAsString('istio_requests_total');
  assert.match(metrics, /request_protocol="grpc",response_code="200",grpc_response_status="0"/);
  assert.match(metrics, /request_protocol="grpc",response_code="200",grpc_response_status="5"/);
});

test('a gRPC fault abort reaches the client as a gRPC status', async () => {
  const cfg = engine.config.source;
  engine.update({
    ...cfg,
    services: cfg.services.map((s) => ({
      ...s,
      ports: s.ports.map((p) => ({
        ...p,
        routes: [
          {
            name: 'abort',
            matches: [],
            action: {
              kind: 'route' as const,
              backends: [{ cluster: 'c', weight: 1 }],
              fault: { abort: { status: 200, grpcStatus: 14, percent: 100 } },
            },
          },
        ],
      })),
    })),
  });
  const Client = grpc.makeGenericClientConstructor(SERVICE, 'Echo');
  const client = new Client(
    `127.0.0.1:${frontPort}`,
    grpc.credentials.createInsecure(),
  ) as unknown as grpc.Client & {
    Echo: (req: Buffer, md: grpc.Metadata, cb: (err: grpc.ServiceError | null, res?: Buffer) => void) => void;
  };
  const err = await new Promise<grpc.ServiceError>((res) =>
    client.Echo(Buffer.from('hi'), new grpc.Metadata(), (e) => res(e!)),
  );
  client.close();
  assert.equal(err.code, grpc.status.UNAVAILABLE);
  assert.equal(err.details, 'fault filter abort');
});
