import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import {
  LocalTokenAuthenticator,
  addNodeToken,
  createNodeToken,
  removeNodeToken,
  writeTokenFile,
} from '../../../../src/istiod/ca/local-tokens.js';
import { sid } from './fixtures.js';

const ZT = sid('istio-system', 'ztunnel');

test('a node token names its node and the node proxy identity; the file is 0600 and holds no token', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tokens-'));
  try {
    const file = join(dir, 'node-tokens.json');
    const t1 = await addNodeToken(file, { node: 'node1', identity: ZT });
    const t2 = await addNodeToken(file, { node: 'node2', identity: ZT });
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const text = await readFile(file, 'utf8');
    assert.ok(!text.includes(t1) && !text.includes(t2), 'only digests are stored');
    const auth = await LocalTokenAuthenticator.load(file);
    const r = await auth.authenticate(t2);
    assert.ok(r.ok);
    assert.deepEqual(r.caller, { identity: ZT, node: 'node2', via: 'local-token' });
    const bad = await auth.authenticate('mesh-node.nope');
    assert.ok(!bad.ok);
    assert.equal(bad.code, status.UNAUTHENTICATED);
    assert.equal(bad.reason, 'unknown_token');
    // A new token for node1 replaces the old one.
    await addNodeToken(file, { node: 'node1', identity: ZT });
    await auth.reload();
    assert.equal((await auth.authenticate(t1)).ok, false);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an expired token is refused as expired', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tokens-'));
  try {
    const file = join(dir, 't.json');
    const { token, record } = createNodeToken({
      node: 'n1',
      identity: ZT,
      ttlMs: 1000,
      now: new Date(Date.now() - 5000),
    });
    await writeTokenFile(file, [record]);
    const auth = await LocalTokenAuthenticator.load(file);
    const r = await auth.authenticate(token);
    assert.ok(!r.ok);
    assert.equal(r.reason, 'expired_token');
    assert.match(r.message, /node token of "n1" expired at/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a token file readable by others is refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tokens-'));
  try {
    const file = join(dir, 't.json');
    await writeTokenFile(file, []);
    await chmod(file, 0o644);
    await assert.rejects(LocalTokenAuthenticator.load(file), /mode 644; it must be 600/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("removing a proxy's token (its pod went away) stops it authenticating and keeps the others", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tokens-'));
  try {
    const file = join(dir, 'node-tokens.json');
    const nodes = Array.from({ length: 6 }, (_, i) => `sidecar/shop/web-${i}`);
    // Created and removed concurrently, as the local cluster creates pods in parallel.
    const tokens = await Promise.all(nodes.map((node) => addNodeToken(file, { node, identity: ZT })));
    const removed = await Promise.all([
      removeNodeToken(file, nodes[1]!),
      removeNodeToken(file, nodes[4]!),
      removeNodeToken(file, 'sidecar/shop/never-existed'),
    ]);
    assert.deepEqual(removed, [1, 1, 0]);
    const auth = await LocalTokenAuthenticator.load(file);
    const ok = await Promise.all(tokens.map(async (t) => (await auth.authenticate(t)).ok));
    assert.deepEqual(ok, [true, false, true, true, false, true]);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal(await removeNodeToken(join(dir, 'missing.json'), 'x'), 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a token added a moment after the last check authenticates at once (a proxy just deployed)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tokens-'));
  try {
    const file = join(dir, 'node-tokens.json');
    await addNodeToken(file, { node: 'node1', identity: ZT });
    // The clock stands still: the once-a-second look at the file is not due.
    const auth = await LocalTokenAuthenticator.load(file, { now: () => 1_000_000 });
    assert.equal((await auth.authenticate('mesh-node.nope')).ok, false);
    const fresh = await addNodeToken(file, { node: 'waypoint/default/waypoint', identity: ZT });
    const r = await auth.authenticate(fresh);
    assert.ok(r.ok, r.ok ? '' : r.message);
    assert.equal(r.caller.node, 'waypoint/default/waypoint');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
