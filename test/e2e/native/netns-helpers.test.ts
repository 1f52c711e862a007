/**
 * The namespace helpers against the real `ip` and `nft`: failures name the command and its stderr,
 * and leftovers are found and removed by prefix. Needs root; skipped (with a message) otherwise.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MeshError } from '../../../src/common/errors.js';
import {
  applyNftRuleset,
  cleanupLeftovers,
  createNetns,
  createVethPair,
  execInNetns,
  findLeftovers,
  listLinks,
  listNftTables,
  setNetnsSysctl,
  tablePrefix,
} from '../../../src/local/netns/index.js';

const isRoot = process.getuid?.() === 0;
const skip = isRoot ? false : 'needs root: creates network namespaces, links and nftables tables';
const prefix = `mlt-${process.pid}-h`;

describe('namespace helpers with the real ip and nft', { skip }, () => {
  after(async () => {
    await cleanupLeftovers(prefix);
  });

  test('a failing command is reported with its command line and stderr', async () => {
    await createNetns(`${prefix}1`);
    await assert.rejects(
      createNetns(`${prefix}1`),
      (err: unknown) =>
        err instanceof MeshError &&
        err.code === 'NETNS_ERR_COMMAND' &&
        err.message.includes(`ip netns add ${prefix}1`) &&
        /exists/i.test(err.message),
    );
    await assert.rejects(
      applyNftRuleset(`${prefix}1`, 'table inet broken { chain c { nonsense } }'),
      (err: unknown) => err instanceof MeshError && /nft -f -/.test(err.message) && /Error/.test(err.message),
    );
  });

  test('a sysctl and a command run inside the namespace, not on the host', async () => {
    await setNetnsSysctl(`${prefix}1`, 'net.ipv4.ip_forward', 1);
    const inside = await execInNetns(`${prefix}1`, 'cat', ['/proc/sys/net/ipv4/ip_forward']);
    assert.equal(inside.stdout.trim(), '1');
    const links = await execInNetns(`${prefix}1`, 'ip', ['-o', 'link', 'show']);
    assert.match(links.stdout, /\blo:.*\bUP\b/, 'loopback is up in a new namespace');
  });

  test('leftovers on the host (a veth, a table, namespaces) are found and removed by prefix', async () => {
    await createNetns(`${prefix}2`);
    await createVethPair(
      { name: `${prefix}h` },
      { name: `${prefix}p`, netns: `${prefix}2`, addresses: ['10.78.0.2/30'] },
    );
    await applyNftRuleset(undefined, `table inet ${tablePrefix(prefix)}t { }`);
    const found = await findLeftovers(prefix);
    assert.deepEqual(found.namespaces.sort(), [`${prefix}1`, `${prefix}2`]);
    assert.deepEqual(found.links, [`${prefix}h`]);
    assert.deepEqual(found.tables, [{ family: 'inet', name: `${tablePrefix(prefix)}t` }]);
    const { errors } = await cleanupLeftovers(prefix);
    assert.deepEqual(errors, []);
    assert.deepEqual(await findLeftovers(prefix), { namespaces: [], links: [], tables: [] });
    assert.ok(!(await listLinks()).some((l) => l.name.startsWith(prefix)));
    assert.ok(!(await listNftTables()).some((t) => t.name.startsWith(tablePrefix(prefix))));
  });
});
