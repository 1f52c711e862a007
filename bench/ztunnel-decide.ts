/**
 * Micro-benchmark of ztunnel's per-connection pure logic on a 10k-workload store:
 * - decideOutbound for a mix of destinations (service VIPs with 10 endpoints each, some with a
 *   waypoint, some with FAILOVER locality; direct pod IPs; unknown IPs);
 * - authorize with the cached candidate set (a STRICT-style global DENY, a namespace ALLOW, a
 *   selector policy).
 * Also the time to load the store (applyAddresses of 10k workloads + 1k services).
 *
 * Run: `npx tsc -p . && node dist/bench/ztunnel-decide.js` (a few seconds). Env: ZT_BENCH_PODS.
 * Prints one JSON line.
 */
import type { Authorization } from '../src/xds/security-types.js';
import type { Address, Workload as WireWorkload } from '../src/xds/workload-types.js';
import { authorize } from '../src/ztunnel/authz/authorize.js';
import { policiesFor } from '../src/ztunnel/authz/policies-for.js';
import { decideOutbound, type DecideOptions, type SocketAddr } from '../src/ztunnel/outbound/decide.js';
import { parseIp } from '../src/ztunnel/state/ip.js';
import { StateStore } from '../src/ztunnel/state/store.js';

const PODS = Number(process.env.ZT_BENCH_PODS ?? 10_000);
const SERVICES = Math.max(1, Math.floor(PODS / 10));
const NAMESPACES = 20;

function ipOf(i: number, base: number): string {
  return `10.${base}.${(i >> 8) & 0xff}.${i & 0xff}`;
}

function build(): { store: StateStore; loadMs: number } {
  const store = new StateStore();
  const addresses = new Map<string, Address>();
  // waypoint service + pods
  const wpKey = 'ns0/wp.ns0.svc.cluster.local';
  addresses.set(wpKey, {
    service: {
      name: 'wp',
      namespace: 'ns0',
      hostname: 'wp.ns0.svc.cluster.local',
      addresses: [{ address: parseIp('10.99.0.1') }],
      ports: [{ servicePort: 15008, targetPort: 15008 }],
    },
  });
  for (let i = 0; i < 2; i++) {
    addresses.set(`wp-${i}`, {
      workload: {
        uid: `wp-${i}`,
        name: `wp-${i}`,
        namespace: 'ns0',
        addresses: [parseIp(`10.98.0.${i + 1}`)!],
        tunnelProtocol: 1,
        serviceAccount: 'wp',
        services: { [wpKey]: { ports: [{ servicePort: 15008, targetPort: 15008 }] } },
      },
    });
  }
  for (let s = 0; s < SERVICES; s++) {
    const ns = `ns${s % NAMESPACES}`;
    addresses.set(`${ns}/svc${s}`, {
      service: {
        name: `svc${s}`,
        namespace: ns,
        hostname: `svc${s}.${ns}.svc.cluster.local`,
        addresses: [{ address: parseIp(ipOf(s, 96)) }],
        ports: [{ servicePort: 80, targetPort: 8080 }],
        ...(s % 10 === 0
          ? { waypoint: { hostname: { namespace: 'ns0', hostname: 'wp.ns0.svc.cluster.local' } } }
          : {}),
        ...(s % 5 === 1 ? { loadBalancing: { routingPreference: [1, 2], mode: 2 } } : {}),
      },
    });
  }
  for (let i = 0; i < PODS; i++) {
    const s = i % SERVICES;
    const ns = `ns${s % NAMESPACES}`;
    const w: WireWorkload = {
      uid: `c1//Pod/${ns}/pod-${i}`,
      name: `pod-${i}`,
      namespace: ns,
      addresses: [parseIp(ipOf(i, 1))!],
      tunnelProtocol: i % 20 === 0 ? 0 : 1,
      serviceAccount: `sa${s}`,
      node: `node${i % 50}`,
      locality: { region: 'r1', zone: `z${i % 3}` },
      services: {
        [`${ns}/svc${s}.${ns}.svc.cluster.local`]: { ports: [{ servicePort: 80, targetPort: 8080 }] },
      },
      authorizationPolicies: [`${ns}/selected`],
      status: i % 17 === 0 ? 1 : 0,
    };
    addresses.set(w.uid!, { workload: w });
  }
  const t0 = process.hrtime.bigint();
  const res = store.applyAddresses(addresses, []);
  const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
  if (res.errors.length) throw new Error(JSON.stringify(res.errors.slice(0, 3)));
  const policies = new Map<string, Authorization>();
  policies.set('istio-system/strict', {
    name: 'strict',
    namespace: 'istio-system',
    scope: 0,
    action: 1,
    groups: [{ rules: [{ matches: [{ notPrincipals: [{ presence: {} }] }] }] }],
  });
  for (let n = 0; n < NAMESPACES; n++) {
    policies.set(`ns${n}/allow-ns`, {
      name: 'allow-ns',
      namespace: `ns${n}`,
      scope: 1,
      action: 0,
      groups: [{ rules: [{ matches: [{ namespaces: [{ exact: `ns${(n + 1) % NAMESPACES}` }] }] }] }],
    });
    policies.set(`ns${n}/selected`, {
      name: 'selected',
      namespace: `ns${n}`,
      scope: 2,
      action: 0,
      groups: [
        {
          rules: [
            {
              matches: [
                { sourceIps: [{ address: parseIp('10.1.0.0'), length: 16 }], destinationPorts: [8080] },
              ],
            },
          ],
        },
      ],
    });
  }
  store.applyAuthorizations(policies, []);
  return { store, loadMs };
}

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function main(): void {
  const { store, loadMs } = build();
  const random = rng(1);
  const opts: DecideOptions = { selfPorts: [15001, 15006, 15008], nodeName: 'node1', random };
  const sources = [...store.workloads()].filter((w) => w.node === 'node1' && w.namespace !== 'ns0');
  // destinations: 60% service VIPs, 30% pod IPs, 10% outside the mesh
  const dsts: SocketAddr[] = [];
  const pick = rng(2);
  for (let i = 0; i < 4096; i++) {
    const r = pick();
    if (r < 0.6) dsts.push({ ip: ipOf(Math.floor(pick() * SERVICES), 96), port: 80 });
    else if (r < 0.9) dsts.push({ ip: ipOf(Math.floor(pick() * PODS), 1), port: 8080 });
    else dsts.push({ ip: `172.16.${i & 0xff}.1`, port: 443 });
  }
  const kinds: Record<string, number> = {};
  for (let i = 0; i < dsts.length; i++) {
    const k = decideOutbound(sources[i % sources.length]!, dsts[i]!, store, opts).kind;
    kinds[k] = (kinds[k] ?? 0) + 1;
  }
  const N = 2_000_000;
  // warm-up
  for (let i = 0; i < 200_000; i++)
    decideOutbound(sources[i % sources.length]!, dsts[i & 4095]!, store, opts);
  let t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    decideOutbound(sources[i % sources.length]!, dsts[i & 4095]!, store, opts);
  }
  const decideNs = Number(process.hrtime.bigint() - t0) / N;

  const targets = sources.slice(0, 64);
  const conns = targets.map((w, i) => ({
    srcIdentity:
      i % 4 === 0
        ? undefined
        : { trustDomain: 'cluster.local', namespace: `ns${i % NAMESPACES}`, serviceAccount: 'x' },
    srcIp: ipOf(i * 7, 1),
    dstIp: w.ips[0]!,
    dstPort: 8080,
    dstWorkload: w,
  }));
  let allowed = 0;
  for (let i = 0; i < 100_000; i++) {
    const c = conns[i & 63]!;
    authorize(c, policiesFor(store, c.dstWorkload));
  }
  t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    const c = conns[i & 63]!;
    if (authorize(c, policiesFor(store, c.dstWorkload)).allowed) allowed++;
  }
  const authzNs = Number(process.hrtime.bigint() - t0) / N;
  const mem = process.memoryUsage();
  console.log(
    JSON.stringify({
      bench: 'ztunnel-decide',
      workloads: store.counts.workloads,
      services: store.counts.services,
      policies: store.counts.policies,
      storeLoadMs: Math.round(loadMs),
      decideOutboundPerSec: Math.round(1e9 / decideNs),
      decideNsPerOp: Math.round(decideNs),
      planKindsOver4096Destinations: kinds,
      sources: sources.length,
      authorizePerSec: Math.round(1e9 / authzNs),
      authorizeNsPerOp: Math.round(authzNs),
      allowedShare: +(allowed / N).toFixed(3),
      heapUsedMB: Math.round(mem.heapUsed / 2 ** 20),
    }),
  );
}

main();
