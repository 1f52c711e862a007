/**
 * The `istio-init` container of an injected pod on Kubernetes: loads the pod's capture rules
 * (sidecarRuleset) into its network namespace with `nft -f -` before the app and the proxy start, as
 * Istio's `istio-iptables` does. It needs NET_ADMIN and NET_RAW, runs as root, and exits.
 */
import { spawn } from 'node:child_process';
import { parsers, type ConfigOf } from '../common/config.js';
import { MeshError } from '../common/errors.js';
import type { SidecarCapture } from './rules.js';

const ports = (raw: string, source: string): number[] =>
  parsers
    .list(raw)
    .map((p) => parsers.int(1, 65535)(p, source))
    .filter((n) => n > 0);

export const initSchema = {
  outboundPort: {
    flag: 'outbound-port',
    env: 'OUTBOUND_PORT',
    doc: 'outbound capture port',
    default: 15001,
    parse: parsers.port,
  },
  inboundPort: {
    flag: 'inbound-port',
    env: 'INBOUND_PORT',
    doc: 'inbound capture port',
    default: 15006,
    parse: parsers.port,
  },
  proxyUid: {
    flag: 'proxy-uid',
    env: 'PROXY_UID',
    doc: "the proxy's uid: its sockets are not captured",
    default: 1337,
    parse: parsers.int(0, 2 ** 31 - 1),
  },
  excludeInboundPorts: {
    flag: 'exclude-inbound-ports',
    env: 'EXCLUDE_INBOUND_PORTS',
    doc: 'comma-separated ports not captured inbound',
    default: [] as number[],
    parse: ports,
  },
  excludeOutboundPorts: {
    flag: 'exclude-outbound-ports',
    env: 'EXCLUDE_OUTBOUND_PORTS',
    doc: 'comma-separated ports not captured outbound',
    default: [] as number[],
    parse: ports,
  },
  excludeOutboundIpRanges: {
    flag: 'exclude-outbound-ip-ranges',
    env: 'EXCLUDE_OUTBOUND_IP_RANGES',
    doc: 'comma-separated IPv4 CIDRs not captured outbound',
    default: [] as string[],
    parse: (raw: string) => parsers.list(raw),
  },
  dryRun: {
    flag: 'dry-run',
    env: 'DRY_RUN',
    doc: 'print the ruleset, load nothing',
    default: false,
    parse: parsers.bool,
    boolean: true,
  },
};

export type InitConfig = ConfigOf<typeof initSchema>;

export function initCapture(c: InitConfig): SidecarCapture {
  return {
    outboundPort: c.outboundPort,
    inboundPort: c.inboundPort,
    proxyUid: c.proxyUid,
    ...(c.excludeInboundPorts.length ? { excludeInboundPorts: c.excludeInboundPorts } : {}),
    ...(c.excludeOutboundPorts.length ? { excludeOutboundPorts: c.excludeOutboundPorts } : {}),
    ...(c.excludeOutboundIpRanges.length ? { excludeOutboundIPRanges: c.excludeOutboundIpRanges } : {}),
  };
}

/** The webhook's side: the init container's flags for a capture (inverse of initCapture). */
export function initArgs(c: Omit<SidecarCapture, 'outboundPort' | 'inboundPort'>): string[] {
  return [
    ...(c.proxyUid !== undefined ? ['--proxy-uid', String(c.proxyUid)] : []),
    ...(c.excludeInboundPorts?.length ? ['--exclude-inbound-ports', c.excludeInboundPorts.join(',')] : []),
    ...(c.excludeOutboundPorts?.length ? ['--exclude-outbound-ports', c.excludeOutboundPorts.join(',')] : []),
    ...(c.excludeOutboundIPRanges?.length
      ? ['--exclude-outbound-ip-ranges', c.excludeOutboundIPRanges.join(',')]
      : []),
  ];
}

/** `nft -f -` with the ruleset on stdin (atomic: all of it or none). */
export function loadRuleset(ruleset: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('nft', ['-f', '-'], { stdio: ['pipe', 'inherit', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err) =>
      reject(new MeshError('SIDECAR_ERR_INIT', `cannot run nft (is nftables in the image?): ${err.message}`)),
    );
    child.on('close', (code) =>
      code === 0
        ? resolve()
        : reject(
            new MeshError(
              'SIDECAR_ERR_INIT',
              `nft -f - exited ${code}: ${stderr.trim()} (the container needs NET_ADMIN and NET_RAW)`,
            ),
          ),
    );
    child.stdin.end(ruleset);
  });
}
