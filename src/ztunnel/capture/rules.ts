/**
 * The nftables rules ztunnel installs inside an ambient pod's network namespace (Istio's in-pod
 * model, with REDIRECT so the original destination stays readable with SO_ORIGINAL_DST).
 */
import { ZTUNNEL_MARK } from '../../native/index.js';

export const CAPTURE_TABLE = 'ztunnel_capture';
/** Istio's in-pod reply path: the connmark of ztunnel's connections, and the routing table of replies. */
export const REPLY_MARK = 0x111;
export const REPLY_TABLE = 133;

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
  const reply = `0x${REPLY_MARK.toString(16)}`;
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
  chain reply {
    type route hook output priority mangle; policy accept;
    meta mark ${mark} ct mark set ${reply}
    ct direction reply ct mark ${reply} meta mark set ${reply}
  }
}
`;
}

/**
 * ztunnel connects to the app with the client's address (a transparent socket), so the app's replies
 * go to an address outside the pod: those packets carry the connection's mark (the \`reply\` chain
 * above) and this routing sends them to the local stack, where ztunnel's socket takes them.
 * \`ip\` argument lists for the pod's namespace NAME: \`show\` prints the rule when it is there
 * already (a ztunnel taking over must not remove it even for a moment: replies of live connections
 * would leave the pod), \`add\` installs it, \`remove\` deletes it when the pod leaves the mesh.
 */
export function replyRouteArgs(netnsName: string): { show: string[]; add: string[][]; remove: string[] } {
  const sel = ['fwmark', `0x${REPLY_MARK.toString(16)}/0xfff`, 'lookup', String(REPLY_TABLE)];
  const ns = ['-n', netnsName];
  return {
    show: [...ns, 'rule', 'show', ...sel],
    add: [
      [...ns, 'route', 'replace', 'local', '0.0.0.0/0', 'dev', 'lo', 'table', String(REPLY_TABLE)],
      [...ns, 'rule', 'add', ...sel],
    ],
    remove: [...ns, 'rule', 'del', ...sel],
  };
}

export function removeRuleset(): string {
  return `table ip ${CAPTURE_TABLE}\ndelete table ip ${CAPTURE_TABLE}\n`;
}
