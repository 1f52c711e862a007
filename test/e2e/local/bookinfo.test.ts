/**
 * Bookinfo through a waypoint (root): the walkthrough of docs/waypoint.md — a namespace waypoint,
 * subsets, `end-user: jason` to reviews v2 (which calls ratings through the waypoint too, with the
 * header forwarded), everyone else to v1, then an abort on ratings for jason only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from '../../../src/local/netns/index.js';
import { skip, sleep, meshctl, startCluster } from './harness.js';

const NAME = `mlb${process.pid % 100000}`;

interface Page {
  user: string | null;
  reviews: { servedBy?: string; ratings?: { servedBy?: string; error?: string } };
}

test(
  'Bookinfo: jason to reviews v2 (→ ratings), others to v1, then an abort on ratings for jason',
  { skip, timeout: 150_000 },
  async (t) => {
    const cluster = await startCluster(t, NAME, ['deploy/samples/bookinfo.yaml']);
    const cfg = cluster.dirs.config;
    const curlPod = cluster.pods.find((p) => p.namespace === 'bookinfo' && p.deployment === 'curl')!;
    const page = async (user?: string): Promise<Page | undefined> => {
      const args = ['netns', 'exec', curlPod.netns, 'curl', '-sS', '--max-time', '5'];
      if (user) args.push('-H', `end-user: ${user}`);
      try {
        return JSON.parse((await runCommand('ip', [...args, 'http://productpage:9080/'])).stdout) as Page;
      } catch {
        return undefined;
      }
    };
    const until = async (what: string, fn: () => Promise<boolean>): Promise<void> => {
      for (let i = 0; i < 120; i++) {
        if (await fn()) return;
        await sleep(250);
      }
      assert.fail(`timed out waiting for ${what}`);
    };

    const wp = await meshctl([
      'waypoint',
      'apply',
      '-n',
      'bookinfo',
      '--enroll-namespace',
      '--wait',
      '--config-dir',
      cfg,
    ]);
    assert.equal(wp.code, 0, wp.out);
    await writeFile(
      join(cfg, 'reviews-routing.yaml'),
      `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: bookinfo}
spec:
  host: reviews
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}, {name: v3, labels: {version: v3}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: bookinfo}
spec:
  hosts: [reviews]
  http:
  - match: [{headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - route: [{destination: {host: reviews, subset: v1}}]
`,
    );
    await until(
      'jason to reach reviews v2',
      async () => (await page('jason'))?.reviews.servedBy === 'reviews-v2-1',
    );
    for (let i = 0; i < 5; i++) {
      const j = await page('jason');
      assert.equal(j?.user, 'jason');
      assert.equal(j?.reviews.servedBy, 'reviews-v2-1');
      assert.equal(j?.reviews.ratings?.servedBy, 'ratings-v1-1');
      assert.equal((await page())?.reviews.servedBy, 'reviews-v1-1');
    }
    await writeFile(
      join(cfg, 'ratings-fault.yaml'),
      `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings, namespace: bookinfo}
spec:
  hosts: [ratings]
  http:
  - match: [{headers: {end-user: {exact: jason}}}]
    fault: {abort: {httpStatus: 500, percentage: {value: 100}}}
    route: [{destination: {host: ratings}}]
  - route: [{destination: {host: ratings}}]
`,
    );
    await until('the abort for jason', async () =>
      String((await page('jason'))?.reviews.ratings?.error ?? '').startsWith('500 fault filter abort'),
    );
    // The routes are there for meshctl get, as kubectl get shows them.
    const vs = await meshctl(['get', 'virtualservice', '-n', 'bookinfo', '--config-dir', cfg]);
    assert.match(vs.out, /ratings/);
    assert.match(vs.out, /reviews/);
  },
);
