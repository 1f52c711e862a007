/**
 * Links, addresses, routes and rules: veth pairs between namespaces, and the routes over them.
 */
import {
  addrAddArgs,
  linkDeleteArgs,
  linkUpArgs,
  routeAddArgs,
  ruleAddArgs,
  vethAddArgs,
  type RouteSpec,
  type RuleSpec,
  type VethEnd,
} from './args.js';
import { runCommand } from './command.js';
import { checkNetnsName } from './names.js';
import { parseLinkList, type LinkEntry } from './parse.js';

/**
 * A veth pair with one end in each namespace, addressed and up. If a later step fails the pair is
 * deleted again, so a failure leaves nothing behind.
 */
export async function createVethPair(a: VethEnd, b: VethEnd): Promise<void> {
  await runCommand('ip', vethAddArgs(a, b));
  try {
    for (const end of [a, b]) {
      for (const cidr of end.addresses ?? []) await runCommand('ip', addrAddArgs(end.netns, end.name, cidr));
      await runCommand('ip', linkUpArgs(end.netns, end.name));
    }
  } catch (err) {
    await deleteLink(a.netns, a.name).catch(() => undefined);
    throw err;
  }
}

/** Deletes a link (deleting one end of a veth deletes both). */
export async function deleteLink(netns: string | undefined, name: string): Promise<void> {
  await runCommand('ip', linkDeleteArgs(netns, name));
}

export async function addRoute(netns: string | undefined, route: RouteSpec): Promise<void> {
  await runCommand('ip', routeAddArgs(netns, route));
}

export async function addRule(netns: string | undefined, rule: RuleSpec): Promise<void> {
  await runCommand('ip', ruleAddArgs(netns, rule));
}

/** Links of a namespace (undefined: the host's), with their kind (veth, ...). */
export async function listLinks(netns?: string): Promise<LinkEntry[]> {
  const args = netns === undefined ? [] : ['-n', checkNetnsName(netns)];
  const { stdout } = await runCommand('ip', [...args, '-j', '-d', 'link', 'show']);
  return parseLinkList(stdout);
}
