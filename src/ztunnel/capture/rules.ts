/**
 * The nftables rules ztunnel installs inside an ambient pod's network namespace (Istio's in-pod
 * model, with REDIRECT so the original destination stays readable with SO_ORIGINAL_DST).
 */
import { ZTUNNEL_MARK } from '../../native/index.js';

export const CAPTURE_TABLE = 'ztunnel_capture';

export interface CapturePorts {
  outbound: number;
  inboundPlaintext: number;
  hbone: number;
}

/**
 * Outbound TCP (not ztunnel's own marked sockets, not loopback) goes to the outbound port; inbound
 * TCP to the HBONE port is left alone (ztunnel listens there); other inbound TCP goes to the plaintext
 * inbound port, except from `healthSource` (the node: kubelet's probes pass, as in Istio).
 */
export function captureRuleset(ports: CapturePorts, healthSource?: string): string {
  const mark = `0x${ZTUNNEL_MARK.toString(16)}`;
  const health = healthSource ? `    ip saddr ${healthSource} accept\n` : '';
  return `table ip ${CAPTURE_TABLE}
delete table ip ${CAPTURE_TABLE}
table ip ${CAPTURE_TABLE} {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    meta l4proto != tcp accept
    tcp dport ${ports.hbone} accept
${health}    meta l4proto tcp redirect to :${ports.inboundPlaintext}
  }
  chain output {
    type nat hook output priority -100; policy accept;
    meta l4proto != tcp accept
    meta mark ${mark} accept
    ip daddr 127.0.0.0/8 accept
    meta l4proto tcp redirect to :${ports.outbound}
  }
}
`;
}

export function removeRuleset(): string {
  return `table ip ${CAPTURE_TABLE}\ndelete table ip ${CAPTURE_TABLE}\n`;
}
