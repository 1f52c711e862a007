/**
 * Argument lists for `ip` and `nft` (pure: unit-tested, no commands run). Each builder checks its
 * inputs; `netns` undefined means the host's namespace.
 */
import { isIP } from 'node:net';
import { MeshError } from '../../common/errors.js';
import { checkLinkName, checkNetnsName, checkNftFamily, checkTableName } from './names.js';

/** `ip -n NS ...` or plain `ip ...`. */
function ipIn(netns: string | undefined, ...rest: string[]): string[] {
  return netns === undefined ? rest : ['-n', checkNetnsName(netns), ...rest];
}

function argError(message: string): MeshError {
  return new MeshError('NETNS_ERR_INVALID_ARG', message);
}

/** An address with prefix length, e.g. 10.0.0.1/24 or fd00::1/64. */
export function checkCidr(cidr: string): { ip: string; prefix: number; family: 4 | 6 } {
  const slash = cidr.lastIndexOf('/');
  const ip = slash < 0 ? cidr : cidr.slice(0, slash);
  const family = isIP(ip);
  const prefix = slash < 0 ? (family === 6 ? 128 : 32) : Number(cidr.slice(slash + 1));
  const max = family === 6 ? 128 : 32;
  if ((family !== 4 && family !== 6) || !/^\d+$/.test(String(prefix)) || prefix > max) {
    throw argError(
      `${JSON.stringify(cidr)} is not an address with prefix length (like 10.0.0.1/24 or fd00::1/64)`,
    );
  }
  return { ip, prefix, family };
}

export function netnsAddArgs(name: string): string[] {
  return ['netns', 'add', checkNetnsName(name)];
}

export function netnsDeleteArgs(name: string): string[] {
  return ['netns', 'delete', checkNetnsName(name)];
}

export function linkUpArgs(netns: string | undefined, link: string): string[] {
  return ipIn(netns, 'link', 'set', checkLinkName(link), 'up');
}

export function linkDeleteArgs(netns: string | undefined, link: string): string[] {
  return ipIn(netns, 'link', 'delete', checkLinkName(link));
}

/** One end of a veth pair. */
export interface VethEnd {
  name: string;
  /** The namespace the end lives in; undefined: the host's. */
  netns?: string;
  /** Addresses with prefix length (IPv6 ones get `nodad`, so they are usable at once). */
  addresses?: string[];
  mtu?: number;
}

/** Creates both ends directly in their namespaces (no name ever appears in the host namespace). */
export function vethAddArgs(a: VethEnd, b: VethEnd): string[] {
  const args = ipIn(a.netns, 'link', 'add', checkLinkName(a.name));
  if (a.mtu !== undefined) args.push('mtu', String(checkMtu(a.mtu)));
  args.push('type', 'veth', 'peer', 'name', checkLinkName(b.name));
  if (b.mtu !== undefined) args.push('mtu', String(checkMtu(b.mtu)));
  if (b.netns !== undefined) args.push('netns', checkNetnsName(b.netns));
  return args;
}

function checkMtu(mtu: number): number {
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) throw argError(`MTU must be 68-65535, got ${mtu}`);
  return mtu;
}

export function addrAddArgs(netns: string | undefined, link: string, cidr: string): string[] {
  const { family } = checkCidr(cidr);
  const args = ipIn(netns, 'addr', 'add', cidr, 'dev', checkLinkName(link));
  if (family === 6) args.push('nodad');
  return args;
}

export interface RouteSpec {
  /** 'default' or a CIDR. */
  to: string;
  via?: string;
  dev?: string;
  /** Routing table (number or name from rt_tables). */
  table?: string | number;
  /** Route type, e.g. 'local' for TPROXY-style delivery. */
  type?: 'unicast' | 'local' | 'blackhole';
  /** Source address hint. */
  src?: string;
}

export function routeAddArgs(netns: string | undefined, route: RouteSpec): string[] {
  const args = ipIn(netns);
  if (route.via !== undefined && !isIP(route.via)) {
    throw argError(`route via must be an IP address, got ${JSON.stringify(route.via)}`);
  }
  if (route.src !== undefined && !isIP(route.src)) {
    throw argError(`route src must be an IP address, got ${JSON.stringify(route.src)}`);
  }
  const dest = route.to === 'default' ? undefined : checkCidr(route.to);
  const family = dest ? dest.family : route.via !== undefined ? isIP(route.via) : 4;
  if (family === 6) args.push('-6');
  args.push('route', 'add');
  if (route.type !== undefined) args.push(route.type);
  args.push(dest ? `${dest.ip}/${dest.prefix}` : 'default');
  if (route.via !== undefined) args.push('via', route.via);
  if (route.dev !== undefined) args.push('dev', checkLinkName(route.dev));
  if (route.src !== undefined) args.push('src', route.src);
  if (route.table !== undefined) args.push('table', checkTableId(route.table));
  return args;
}

function checkTableId(table: string | number): string {
  const s = String(table);
  if (!/^[A-Za-z0-9_]{1,32}$/.test(s)) throw argError(`routing table must be a number or name, got ${s}`);
  return s;
}

export interface RuleSpec {
  fwmark: number;
  table: string | number;
  priority?: number;
  family?: 4 | 6;
}

/** `ip rule add fwmark M lookup T` (replies of captured connections back to local sockets). */
export function ruleAddArgs(netns: string | undefined, rule: RuleSpec): string[] {
  if (!Number.isInteger(rule.fwmark) || rule.fwmark < 0 || rule.fwmark > 0xffffffff) {
    throw argError(`fwmark must be 0..0xffffffff, got ${rule.fwmark}`);
  }
  const args = ipIn(netns);
  if (rule.family === 6) args.push('-6');
  args.push('rule', 'add', 'fwmark', `0x${rule.fwmark.toString(16)}`, 'lookup', checkTableId(rule.table));
  if (rule.priority !== undefined) args.push('priority', String(rule.priority));
  return args;
}

/** `ip netns exec NS FILE ARGS...`: the program runs with NS as its network namespace. */
export function execArgs(netns: string, file: string, args: readonly string[]): string[] {
  if (!file) throw argError('a command to run is required');
  return ['netns', 'exec', checkNetnsName(netns), file, ...args];
}

/** nft arguments to load a ruleset from stdin, wrapped in `ip netns exec` when a namespace is given. */
export function nftCommand(
  netns: string | undefined,
  nftArgs: readonly string[],
): { file: string; args: string[] } {
  if (netns === undefined) return { file: 'nft', args: [...nftArgs] };
  return { file: 'ip', args: execArgs(netns, 'nft', nftArgs) };
}

export function nftApplyArgs(): string[] {
  return ['-f', '-'];
}

export function nftDeleteTableArgs(family: string, table: string): string[] {
  return ['delete', 'table', checkNftFamily(family), checkTableName(table)];
}

export function nftListTablesArgs(): string[] {
  return ['list', 'tables'];
}

/**
 * A sysctl as a /proc/sys path and value (`net.ipv4.ip_forward` or `net/ipv4/ip_forward`). Written
 * with `tee` inside the namespace: /proc/sys/net shows the namespace of whoever opens it, and no
 * procps is needed.
 */
export function sysctlWrite(key: string, value: string | number): { path: string; input: string } {
  if (!/^[a-z0-9_]+([./][a-z0-9_-]+)+$/i.test(key))
    throw argError(`not a sysctl key: ${JSON.stringify(key)}`);
  const v = String(value);
  if (!/^[A-Za-z0-9_. -]*$/.test(v)) throw argError(`not a plain sysctl value: ${JSON.stringify(v)}`);
  const rel = key.includes('/') ? key : key.replace(/\./g, '/');
  return { path: `/proc/sys/${rel}`, input: `${v}\n` };
}
