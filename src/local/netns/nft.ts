/**
 * nftables inside a namespace: load a ruleset (text, as `nft -f` reads it), delete a table, list tables.
 */
import { nftApplyArgs, nftCommand, nftDeleteTableArgs, nftListTablesArgs } from './args.js';
import { runCommand } from './command.js';
import { parseNftTables, type NftTableEntry } from './parse.js';

/** Loads a ruleset atomically (all of it or none); undefined namespace: the host's. */
export async function applyNftRuleset(netns: string | undefined, ruleset: string): Promise<void> {
  const { file, args } = nftCommand(netns, nftApplyArgs());
  await runCommand(file, args, { input: ruleset });
}

export async function deleteNftTable(
  netns: string | undefined,
  family: string,
  table: string,
): Promise<void> {
  const { file, args } = nftCommand(netns, nftDeleteTableArgs(family, table));
  await runCommand(file, args);
}

export async function listNftTables(netns?: string): Promise<NftTableEntry[]> {
  const { file, args } = nftCommand(netns, nftListTablesArgs());
  const { stdout } = await runCommand(file, args);
  return parseNftTables(stdout);
}
