/**
 * Helpers over `ip` and `nft` for the local cluster and the root-only tests: namespaces, veth pairs,
 * routes, nftables rulesets, and cleanup of leftovers by name prefix. No shell is ever involved.
 */
export { runCommand, formatCommand, type CommandResult, type CommandOptions } from './command.js';
export { netnsPath, tablePrefix, NETNS_RUN_DIR } from './names.js';
export type { VethEnd, RouteSpec, RuleSpec } from './args.js';
export { createNetns, deleteNetns, listNetns, execInNetns, spawnInNetns, setNetnsSysctl } from './netns.js';
export { createVethPair, deleteLink, addRoute, addRule, listLinks } from './links.js';
export { applyNftRuleset, deleteNftTable, listNftTables } from './nft.js';
export { findLeftovers, cleanupLeftovers, isEmpty, type Leftovers } from './leftovers.js';
export type { NetnsEntry, LinkEntry, NftTableEntry } from './parse.js';
