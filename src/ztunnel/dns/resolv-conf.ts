/** The upstream name servers of the node, from resolv.conf (`nameserver` lines, port 53). */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';

export interface DnsUpstream {
  host: string;
  port: number;
}

/** The `nameserver` entries of a resolv.conf text, in order; lines that are not an IP are skipped. */
export function parseResolvConf(text: string): DnsUpstream[] {
  const out: DnsUpstream[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const m = /^nameserver\s+(\S+)$/.exec(line);
    if (!m) continue;
    const host = m[1]!;
    // A link-local IPv6 server may carry a zone (fe80::1%eth0); the zone is not part of the address check.
    if (isIP(host.split('%')[0]!) === 0) continue;
    out.push({ host, port: 53 });
  }
  return out;
}

/** Reads the name servers from a resolv.conf file; none (or no file) gives an empty list. */
export function readResolvConf(path = '/etc/resolv.conf'): DnsUpstream[] {
  try {
    return parseResolvConf(readFileSync(path, 'utf8'));
  } catch {
    return [];
  }
}
