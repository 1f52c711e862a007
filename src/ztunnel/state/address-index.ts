/**
 * network → IP → value, so a per-connection lookup needs no key string built. A removal only takes
 * out the entry if it still belongs to the given owner (another resource may have claimed the address).
 */
import { normalizeIp } from './ip.js';

export class AddressIndex<T> {
  private readonly byNetwork = new Map<string, Map<string, T>>();

  /** Lookup; an IPv6 address may be in any textual form (it is normalized on a miss). */
  get(network: string, ip: string): T | undefined {
    const m = this.byNetwork.get(network);
    if (!m) return undefined;
    const v = m.get(ip);
    if (v !== undefined) return v;
    // IPv4 text from Node's sockets is already canonical; IPv6 may be spelled many ways.
    if (!ip.includes(':')) return undefined;
    const n = normalizeIp(ip);
    return n !== undefined && n !== ip ? m.get(n) : undefined;
  }

  set(network: string, ip: string, value: T): void {
    let m = this.byNetwork.get(network);
    if (!m) this.byNetwork.set(network, (m = new Map()));
    m.set(ip, value);
  }

  deleteIfOwner(network: string, ip: string, owner: T): void {
    const m = this.byNetwork.get(network);
    if (!m || m.get(ip) !== owner) return;
    m.delete(ip);
    if (m.size === 0) this.byNetwork.delete(network);
  }
}
