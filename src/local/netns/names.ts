/**
 * Checks for the names the helpers pass to `ip` and `nft`, so a bad name fails here with a clear
 * message instead of deep inside a command (or being read as an option).
 */
import { MeshError } from '../../common/errors.js';

/** Where `ip netns add NAME` pins a namespace; the path the native primitives take. */
export const NETNS_RUN_DIR = '/run/netns';

function invalid(what: string, name: string, rule: string): MeshError {
  return new MeshError('NETNS_ERR_INVALID_NAME', `${what} ${JSON.stringify(name)} is not valid: ${rule}`);
}

export function checkNetnsName(name: string): string {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/.test(name) || name === '.' || name === '..') {
    throw invalid(
      'network namespace name',
      name,
      'use 1-64 letters, digits, _ . - (not starting with - or .)',
    );
  }
  return name;
}

/** Interface names: at most 15 bytes (IFNAMSIZ - 1). */
export function checkLinkName(name: string): string {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/.test(name)) {
    throw invalid('interface name', name, 'use 1-15 letters, digits, _ . - (not starting with - or .)');
  }
  return name;
}

/** nftables table names as our rulesets use them: an identifier. */
export function checkTableName(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(name)) {
    throw invalid('nftables table name', name, 'use letters, digits and _ (not starting with a digit)');
  }
  return name;
}

export const NFT_FAMILIES = ['ip', 'ip6', 'inet', 'arp', 'bridge', 'netdev'] as const;
export type NftFamily = (typeof NFT_FAMILIES)[number];

export function checkNftFamily(family: string): NftFamily {
  if (!(NFT_FAMILIES as readonly string[]).includes(family)) {
    throw invalid('nftables family', family, `use one of ${NFT_FAMILIES.join(', ')}`);
  }
  return family as NftFamily;
}

/** The path of a named namespace, for listenInNamespace() / connectInNamespace(). */
export function netnsPath(name: string): string {
  return `${NETNS_RUN_DIR}/${checkNetnsName(name)}`;
}

/** nftables tables cannot hold '-': a run prefix such as `mlt-123-` becomes `mlt_123_` for tables. */
export function tablePrefix(prefix: string): string {
  return prefix.replace(/[^A-Za-z0-9_]/g, '_');
}
