/**
 * The benchmark's client process: N delta xDS clients, each on its own HTTP/2 connection, wildcard-
 * subscribed to Address and Authorization, ACKing every response. Two ways of reading responses:
 *
 * - `lazy` (default): a minimal delta client on grpc-js that reads each response's envelope with
 *   scanDeltaResponse (type URL, nonce, names and versions, removals) and keeps name -> version per
 *   type; resource payloads are never decoded.
 * - `envelope`: the project's DeltaClient, which decodes the whole envelope with protobufjs; resource
 *   payloads are kept as bytes, not decoded.
 *
 * Messages with the parent: go -> (clients start) -> synced; watch(name) -> armed -> seen.
 */
import * as grpc from '@grpc/grpc-js';
import { serializeDeltaRequest } from '../../src/xds/grpc-services.js';
import { DeltaClient, type TypeWatch } from '../../src/xds/delta-client.js';
import { formatNodeId } from '../../src/xds/node-id.js';
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL, DELTA_ADS_PATH } from '../../src/xds/type-urls.js';
import type { DeltaDiscoveryRequest } from '../../src/xds/discovery-types.js';
import { scanDeltaResponse } from './scan-response.js';

export type ClientMode = 'lazy' | 'envelope';
export type ToChild = { cmd: 'go' } | { cmd: 'watch'; name: string } | { cmd: 'exit' };
export type FromChild =
  | { ev: 'ready' }
  | { ev: 'synced'; atNs: string; cpuMs: number }
  | { ev: 'armed' }
  | { ev: 'seen'; atNs: string[]; bytes: number[] };

const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.use_local_subchannel_pool': 1,
  'grpc-node.flow_control_window': 4 * 1024 * 1024,
  'grpc.max_receive_message_length': -1,
};

/** What one client holds and reports, whatever reads its responses. */
interface BenchClient {
  versions(typeUrl: string): ReadonlyMap<string, string>;
  close(): void;
}

type OnResponse = (typeUrl: string, upserted: Array<[string, string]>, byteLength: number) => void;

function identity(b: Buffer): Buffer {
  return b;
}

/** The lazy client: ACKs each response, keeps names and versions, never decodes payloads. */
function lazyClient(address: string, nodeId: string, onResponse: OnResponse): BenchClient {
  const client = new grpc.Client(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  const known = new Map<string, Map<string, string>>([
    [ADDRESS_TYPE_URL, new Map()],
    [AUTHORIZATION_TYPE_URL, new Map()],
  ]);
  const call = client.makeBidiStreamRequest<DeltaDiscoveryRequest, Buffer>(
    DELTA_ADS_PATH,
    serializeDeltaRequest,
    identity,
    new grpc.Metadata(),
    {},
  );
  call.on('error', () => {});
  call.on('data', (buf: Buffer) => {
    const r = scanDeltaResponse(buf);
    const map = known.get(r.typeUrl);
    if (map) {
      for (const [name, version] of r.resources) map.set(name, version);
      for (const name of r.removed) map.delete(name);
    }
    call.write({ typeUrl: r.typeUrl, responseNonce: r.nonce });
    onResponse(r.typeUrl, r.resources, buf.length);
  });
  call.write({ typeUrl: ADDRESS_TYPE_URL, node: { id: nodeId } });
  call.write({ typeUrl: AUTHORIZATION_TYPE_URL });
  return {
    versions: (t) => known.get(t) ?? new Map(),
    close: () => {
      call.cancel();
      client.close();
    },
  };
}

/** The project's DeltaClient (protobufjs envelope decode), payloads kept as bytes. */
function envelopeClient(address: string, nodeId: string, onResponse: OnResponse): BenchClient {
  const raw = (b: Uint8Array): Uint8Array => b;
  const watch = (typeUrl: string): TypeWatch<unknown> => ({ typeUrl, decode: raw, onUpdate: () => {} });
  const client: DeltaClient = new DeltaClient({
    address,
    node: { id: nodeId },
    watches: [watch(ADDRESS_TYPE_URL), watch(AUTHORIZATION_TYPE_URL)],
    channelOptions: CHANNEL_OPTIONS,
    onResponse: (e) => {
      const versions = client.versions(e.typeUrl);
      onResponse(
        e.typeUrl,
        e.upserted.map((n) => [n, versions.get(n) ?? '']),
        e.byteLength,
      );
    },
  });
  client.start();
  return client;
}

function run(): void {
  const [, , , portText, firstText, countText, addrText, polText, mode] = process.argv;
  const port = Number(portText);
  const first = Number(firstText);
  const count = Number(countText);
  const expectAddresses = Number(addrText);
  const expectPolicies = Number(polText);
  const send = (m: FromChild): void => void process.send?.(m);
  const clients: BenchClient[] = [];
  let synced = 0;
  let watch: { name: string; before: string[]; atNs: string[]; bytes: number[]; left: number } | undefined;
  let cpuStart = process.cpuUsage();

  const start = (): void => {
    cpuStart = process.cpuUsage();
    for (let k = 0; k < count; k++) {
      const i = first + k;
      let done = false;
      const nodeId = formatNodeId('ztunnel', `10.1.${i >> 8}.${i & 255}`, `ztunnel-${i}`, 'istio-system');
      const onResponse: OnResponse = (typeUrl, upserted, byteLength) => {
        const c = clients[k];
        if (!c) return;
        if (!done && c.versions(ADDRESS_TYPE_URL).size === expectAddresses) {
          if (c.versions(AUTHORIZATION_TYPE_URL).size === expectPolicies) {
            done = true;
            if (++synced === count) {
              const cpu = process.cpuUsage(cpuStart);
              const atNs = process.hrtime.bigint().toString();
              send({ ev: 'synced', atNs, cpuMs: (cpu.user + cpu.system) / 1000 });
            }
          }
        }
        const w = watch;
        if (!w || typeUrl !== ADDRESS_TYPE_URL || w.atNs[k] !== undefined) return;
        const hit = upserted.find(([n]) => n === w.name);
        if (!hit || hit[1] === w.before[k]) return;
        w.atNs[k] = process.hrtime.bigint().toString();
        w.bytes[k] = byteLength;
        if (--w.left === 0) {
          watch = undefined;
          send({ ev: 'seen', atNs: w.atNs, bytes: w.bytes });
        }
      };
      const address = `127.0.0.1:${port}`;
      clients.push(
        mode === 'envelope'
          ? envelopeClient(address, nodeId, onResponse)
          : lazyClient(address, nodeId, onResponse),
      );
    }
  };

  process.on('message', (m: ToChild) => {
    if (m.cmd === 'go') start();
    else if (m.cmd === 'watch') {
      const before = clients.map((c) => c.versions(ADDRESS_TYPE_URL).get(m.name) ?? '');
      watch = { name: m.name, before, atNs: new Array<string>(count), bytes: [], left: count };
      send({ ev: 'armed' });
    } else {
      for (const c of clients) c.close();
      process.exit(0);
    }
  });
  send({ ev: 'ready' });
}

run();
