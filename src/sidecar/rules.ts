/**
 * The nftables rules of a sidecar pod's network namespace, as Istio's `istio-init` writes them with
 * `istio-iptables -p 15001 -z 15006 -u 1337 -m REDIRECT -i '*' -b '*' -d 15090,15021,15020`: inbound TCP
 * to 15006 except HBONE (15008), the proxy's status ports and excluded ports; outbound TCP to 15001
 * except the proxy's own sockets (mark 0x539), loopback, DNS and excluded ports/ranges. REDIRECT keeps
 * the original destination readable with SO_ORIGINAL_DST.
 */
import { ZTUNNEL_MARK } from '../native/index.js';

export const SIDECAR_TABLE = 'istio_sidecar';

/** Ports never redirected inbound: HBONE, Envoy's Prometheus, readiness, merged metrics. */
export const INBOUND_EXCLUDED = [15008, 15090, 15021, 15020];

export interface SidecarCapture {
  outboundPort: number;
  inboundPort: number;
  /** `traffic.sidecar.istio.io/excludeInboundPorts`. */
  excludeInboundPorts?: number[];
  /** `traffic.sidecar.istio.io/excludeOutboundPorts`. */
  excludeOutboundPorts?: number[];
  /** `traffic.sidecar.istio.io/excludeOutboundIPRanges` (CIDRs). */
  excludeOutboundIPRanges?: string[];
  /**
   * istiod's xDS/CA addresses (`ip:port`): the proxy's gRPC sockets carry no mark (Istio lets them
   * through by the proxy's uid 1337), so they are let through by destination.
   */
  controlPlane?: string[];
  /** The proxy's uid (Istio's 1337 on Kubernetes): its own sockets are not redirected. */
  proxyUid?: number;
}

const set = (xs: Array<number | string>): string =>
  xs.length === 1 ? String(xs[0]) : `{ ${xs.join(', ')} }`;

export function sidecarRuleset(c: SidecarCapture): string {
  const mark = `0x${ZTUNNEL_MARK.toString(16)}`;
  const inEx = [...INBOUND_EXCLUDED, ...(c.excludeInboundPorts ?? [])];
  const outPorts = [53, ...(c.excludeOutboundPorts ?? [])];
  const ranges = c.excludeOutboundIPRanges ?? [];
  return `table ip ${SIDECAR_TABLE}
delete table ip ${SIDECAR_TABLE}
table ip ${SIDECAR_TABLE} {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    meta l4proto != tcp accept
    iifname "lo" accept
    tcp dport ${set(inEx)} accept
    meta l4proto tcp redirect to :${c.inboundPort}
  }
  chain output {
    type nat hook output priority -100; policy accept;
    meta l4proto != tcp accept
    meta mark ${mark} accept
${c.proxyUid !== undefined ? `    meta skuid ${c.proxyUid} accept\n` : ''}    oifname "lo" accept
    ip daddr 127.0.0.0/8 accept
    tcp dport ${set(outPorts)} accept
${ranges.length ? `    ip daddr ${set(ranges)} accept\n` : ''}${(c.controlPlane ?? [])
    .map((a) => {
      const i = a.lastIndexOf(':');
      return `    ip daddr ${a.slice(0, i)} tcp dport ${a.slice(i + 1)} accept\n`;
    })
    .join('')}    meta l4proto tcp redirect to :${c.outboundPort}
  }
}
`;
}

/** Reads the `traffic.sidecar.istio.io/*` annotations; a bad entry is an error naming it. */
export function captureFromAnnotations(ann: Record<string, string> | undefined): {
  capture: Omit<SidecarCapture, 'outboundPort' | 'inboundPort'>;
  errors: string[];
} {
  const errors: string[] = [];
  const ports = (key: string): number[] | undefined => {
    const v = ann?.[`traffic.sidecar.istio.io/${key}`];
    if (v === undefined || v.trim() === '') return undefined;
    const out: number[] = [];
    for (const p of v.split(',').map((x) => x.trim())) {
      const n = Number(p);
      if (!/^\d+$/.test(p) || n < 1 || n > 65535)
        errors.push(`traffic.sidecar.istio.io/${key}: "${p}" is not a port`);
      else out.push(n);
    }
    return out;
  };
  const capture: Omit<SidecarCapture, 'outboundPort' | 'inboundPort'> = {};
  const ip = ports('excludeInboundPorts');
  if (ip) capture.excludeInboundPorts = ip;
  const op = ports('excludeOutboundPorts');
  if (op) capture.excludeOutboundPorts = op;
  const r = ann?.['traffic.sidecar.istio.io/excludeOutboundIPRanges'];
  if (r && r.trim()) {
    const list = r.split(',').map((x) => x.trim());
    for (const x of list)
      if (!/^\d{1,3}(\.\d{1,3}){3}(\/\d{1,2})?$/.test(x))
        errors.push(`traffic.sidecar.istio.io/excludeOutboundIPRanges: "${x}" is not an IPv4 CIDR`);
    capture.excludeOutboundIPRanges = list;
  }
  return { capture, errors };
}
