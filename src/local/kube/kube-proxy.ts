/**
 * kube-proxy's and the cluster DNS's roles in `meshctl up --kubernetes`: Services and Endpoints from
 * the API become each node's VIP rules (network.ts `nodeRuleset`, DNAT to the ready endpoints), and a
 * DNS server on the fabric's host address answers `<service>.<namespace>.svc.cluster.local` with the
 * Service's cluster IP (the nodes send their pods' DNS there). Pods in the mesh have their Service
 * traffic captured by ztunnel first, which balances it itself.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { errorMessage } from '../../common/errors.js';
import { KubeInformer, type RawObject } from '../../istiod/config/kube-informer.js';
import { DnsServer } from '../../ztunnel/dns/dns-server.js';
import { applyNodeRules, nodeRuleset } from '../cluster/network.js';
import type { ServiceIn } from '../cluster/manifests.js';
import type { NodeInfo } from '../cluster/topology.js';

interface KubeService {
  metadata: { name: string; namespace: string };
  spec?: { clusterIP?: string; ports?: Array<{ name?: string; port: number; protocol?: string }> };
}

interface KubeEndpoints {
  metadata: { name: string; namespace: string };
  subsets?: Array<{
    addresses?: Array<{ ip: string }>;
    ports?: Array<{ name?: string; port: number; protocol?: string }>;
  }>;
}

export interface ServiceRule {
  service: ServiceIn;
  endpoints: string[];
}

/**
 * One rule per Service port: its endpoints' ready addresses and port (from the Endpoints subset that
 * has a port of the same name), pure.
 */
export function serviceRules(services: KubeService[], endpoints: KubeEndpoints[]): ServiceRule[] {
  const eps = new Map(endpoints.map((e) => [`${e.metadata.namespace}/${e.metadata.name}`, e]));
  const out: ServiceRule[] = [];
  for (const s of services) {
    const ip = s.spec?.clusterIP;
    if (!ip || ip === 'None') continue;
    for (const p of s.spec?.ports ?? []) {
      if ((p.protocol ?? 'TCP') !== 'TCP') continue;
      const subsets = eps.get(`${s.metadata.namespace}/${s.metadata.name}`)?.subsets ?? [];
      const addrs: string[] = [];
      let target = 0;
      for (const sub of subsets) {
        const sp = (sub.ports ?? []).find(
          (x) => (x.name ?? '') === (p.name ?? '') && (x.protocol ?? 'TCP') === 'TCP',
        );
        if (!sp) continue;
        target = sp.port;
        for (const a of sub.addresses ?? []) addrs.push(a.ip);
      }
      out.push({
        service: {
          namespace: s.metadata.namespace,
          name: s.metadata.name,
          clusterIP: ip,
          selector: {},
          ports: [{ port: p.port, targetPort: target || p.port, ...(p.name ? { name: p.name } : {}) }],
        },
        endpoints: target ? addrs : [],
      });
    }
  }
  return out;
}

export class KubeProxy {
  private readonly services = new Map<string, KubeService>();
  private readonly endpoints = new Map<string, KubeEndpoints>();
  private readonly informers: KubeInformer[] = [];
  private readonly dns: DnsServer;
  private timer: NodeJS.Timeout | undefined;
  private applying: Promise<void> = Promise.resolve();
  private lastRules = '';
  dnsPort = 0;

  constructor(
    private readonly kc: KubeConfig,
    private readonly nodes: NodeInfo[],
    private readonly dnsAddress: string,
    private readonly progress: (l: string) => void,
  ) {
    this.dns = new DnsServer({
      upstream: [],
      authoritativeSuffixes: ['cluster.local'],
      ttl: 5,
      lookup: (name) => {
        const m = /^([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.cluster\.local$/.exec(name);
        const ip = m ? this.services.get(`${m[2]}/${m[1]}`)?.spec?.clusterIP : undefined;
        return ip && ip !== 'None' ? { ips: [ip] } : undefined;
      },
    });
  }

  async start(): Promise<void> {
    this.dnsPort = (await this.dns.listen(0, this.dnsAddress)).udp.port;
    await this.apply();
    const follow = (path: string, into: Map<string, RawObject>): void => {
      const inf = new KubeInformer(
        this.kc,
        path,
        {
          listed: () => this.schedule(),
          event: (type, o) => {
            const key = `${o.metadata?.namespace}/${o.metadata?.name}`;
            if (type === 'DELETED') into.delete(key);
            else into.set(key, o);
            this.schedule();
          },
          error: (err, retry) => this.progress(`kube-proxy: ${errorMessage(err)} (retry in ${retry} ms)`),
        },
        { backoffMs: { initial: 500, max: 5000 }, idleTimeoutMs: 60_000 },
      );
      inf.start();
      this.informers.push(inf);
    };
    follow('/api/v1/services', this.services as unknown as Map<string, RawObject>);
    follow('/api/v1/endpoints', this.endpoints as unknown as Map<string, RawObject>);
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.applying = this.applying
        .then(() => this.apply())
        .catch((err: unknown) => this.progress(`kube-proxy: ${errorMessage(err)}`));
    }, 100);
  }

  private async apply(): Promise<void> {
    const rules = serviceRules([...this.services.values()], [...this.endpoints.values()]);
    const key = JSON.stringify(rules);
    if (key === this.lastRules) return;
    this.lastRules = key;
    const byService = new Map(rules.map((r) => [r.service, r.endpoints]));
    for (const n of this.nodes)
      await applyNodeRules(
        n,
        nodeRuleset(n, [...byService.keys()], (s) => byService.get(s) ?? [], this.dnsPort, {
          dns: { ip: this.dnsAddress, port: this.dnsPort },
          masqueradeHostToPods: true,
        }),
      );
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    await Promise.all(this.informers.map((i) => i.stop()));
    await this.applying;
    this.dns.close();
  }
}
