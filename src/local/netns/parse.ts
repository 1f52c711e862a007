/**
 * Parsers for what `ip` and `nft` print (pure: unit-tested on captured output).
 */

export interface NetnsEntry {
  name: string;
  id?: number;
}

/** `ip -j netns list` (JSON; empty output when there are none) or the text form `name (id: 3)`. */
export function parseNetnsList(output: string): NetnsEntry[] {
  const text = output.trim();
  if (!text) return [];
  if (text.startsWith('[')) {
    const rows = JSON.parse(text) as Array<{ name?: unknown; id?: unknown }>;
    return rows
      .filter((r): r is { name: string; id?: unknown } => typeof r.name === 'string')
      .map((r) => (typeof r.id === 'number' ? { name: r.name, id: r.id } : { name: r.name }));
  }
  const out: NetnsEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\S+)(?:\s+\(id:\s*(\d+)\))?/.exec(line.trim());
    if (!m?.[1]) continue;
    out.push(m[2] !== undefined ? { name: m[1], id: Number(m[2]) } : { name: m[1] });
  }
  return out;
}

export interface LinkEntry {
  name: string;
  /** e.g. 'veth', from link_info when `ip -d` printed it. */
  kind?: string;
  up: boolean;
}

/** `ip -j [-d] link show`. */
export function parseLinkList(output: string): LinkEntry[] {
  const text = output.trim();
  if (!text) return [];
  const rows = JSON.parse(text) as Array<{
    ifname?: unknown;
    flags?: unknown;
    linkinfo?: { info_kind?: unknown };
  }>;
  const out: LinkEntry[] = [];
  for (const r of rows) {
    if (typeof r.ifname !== 'string') continue;
    const flags = Array.isArray(r.flags) ? (r.flags as unknown[]) : [];
    const entry: LinkEntry = { name: r.ifname, up: flags.includes('UP') };
    if (typeof r.linkinfo?.info_kind === 'string') entry.kind = r.linkinfo.info_kind;
    out.push(entry);
  }
  return out;
}

export interface NftTableEntry {
  family: string;
  name: string;
}

/** `nft list tables`: lines like `table inet mlt_42_capture`. */
export function parseNftTables(output: string): NftTableEntry[] {
  const out: NftTableEntry[] = [];
  for (const line of output.split('\n')) {
    const m = /^\s*table\s+(\S+)\s+(\S+)\s*$/.exec(line);
    if (m?.[1] && m[2]) out.push({ family: m[1], name: m[2] });
  }
  return out;
}
