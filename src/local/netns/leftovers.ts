/**
 * What a run (named by its prefix, e.g. `mlt-4242-`) left behind, and removing it: namespaces,
 * links in the host namespace, and nftables tables in the host namespace (tables inside a
 * namespace go with it).
 */
import { errorMessage, MeshError } from '../../common/errors.js';
import { deleteLink, listLinks } from './links.js';
import { tablePrefix } from './names.js';
import { deleteNetns, listNetns } from './netns.js';
import { deleteNftTable, listNftTables } from './nft.js';
import type { NftTableEntry } from './parse.js';

export interface Leftovers {
  namespaces: string[];
  links: string[];
  tables: NftTableEntry[];
}

export function isEmpty(l: Leftovers): boolean {
  return l.namespaces.length === 0 && l.links.length === 0 && l.tables.length === 0;
}

export async function findLeftovers(prefix: string): Promise<Leftovers> {
  if (!prefix) throw new MeshError('NETNS_ERR_INVALID_ARG', 'a leftover prefix must not be empty');
  const tPrefix = tablePrefix(prefix);
  const [namespaces, links, tables] = await Promise.all([listNetns(), listLinks(), listNftTables()]);
  return {
    namespaces: namespaces.map((n) => n.name).filter((n) => n.startsWith(prefix)),
    links: links.map((l) => l.name).filter((n) => n.startsWith(prefix)),
    tables: tables.filter((t) => t.name.startsWith(tPrefix)),
  };
}

/** Removes everything findLeftovers() finds; what could not be removed is reported, not thrown. */
export async function cleanupLeftovers(prefix: string): Promise<{ removed: Leftovers; errors: string[] }> {
  const found = await findLeftovers(prefix);
  const removed: Leftovers = { namespaces: [], links: [], tables: [] };
  const errors: string[] = [];
  for (const t of found.tables) {
    await deleteNftTable(undefined, t.family, t.name).then(
      () => removed.tables.push(t),
      (err: unknown) => errors.push(errorMessage(err)),
    );
  }
  for (const l of found.links) {
    await deleteLink(undefined, l).then(
      () => removed.links.push(l),
      (err: unknown) => errors.push(errorMessage(err)),
    );
  }
  for (const n of found.namespaces) {
    await deleteNetns(n, { ignoreMissing: true }).then(
      () => removed.namespaces.push(n),
      (err: unknown) => errors.push(errorMessage(err)),
    );
  }
  return { removed, errors };
}
