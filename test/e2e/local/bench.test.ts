/**
 * `meshctl bench --quick` end to end (root), as a user runs it against a running cluster: every mode
 * (no mesh, ambient, waypoint, sidecar, and the haproxy references where installed) measured in the
 * pods with zero errors, figures for each, a small memory phase, the JSON and the three plots; the
 * cluster left as found. No timing asserts: the figures only have to exist.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { availableModes, type LocalBenchReport } from '../../../bench/local/run.js';
import { captured } from '../../../bench/local/paths.js';
import type { LocalCluster } from '../../../src/local/cluster/cluster.js';
import { meshctl, skip, startCluster } from './harness.js';

const NAME = `mlb${process.pid % 100000}`;

test(
  'meshctl bench --quick: every mode measured with zero errors, figures for each, cluster restored',
  { skip, timeout: 240_000 },
  async (t) => {
    // The runner's watchdog kills a file that prints nothing for 60 s: the cluster is its own subtest,
    // so a result is printed within seconds and the long bench run follows.
    let cluster!: LocalCluster;
    await t.test('a cluster with the demo comes up', async () => {
      cluster = await startCluster(t, NAME, ['deploy/local/demo.yaml']);
    });
    await t.test('the quick bench over every mode', async () => {
      const out = await mkdtemp(join(tmpdir(), 'ml-bench-'));
      t.after(() => rm(out, { recursive: true, force: true }));
      const file = join(out, 'quick.json');
      const r = await meshctl([
        'bench',
        '--quick',
        '--mem-pods',
        '1',
        '--state-dir',
        cluster.o.stateDir,
        '--out',
        file,
      ]);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /goal: ambient L4 added p99 <= 0.25x sidecar added p99/);
      assert.match(r.out, /goal: mesh memory with 1 pods, ambient <= 0.2x sidecar/);
      const rep = JSON.parse(await readFile(file, 'utf8')) as LocalBenchReport;
      assert.equal(rep.failures, undefined, 'every mode answered in every phase');
      const modes = availableModes();
      assert.ok(['no-mesh', 'ambient', 'waypoint', 'sidecar'].every((m) => modes.includes(m as never)));
      const paths: Record<string, string[]> = {
        'no-mesh': [],
        ambient: ['node-1', 'node-2'],
        waypoint: ['node-1', 'node-2', 'waypoint'],
        sidecar: ['sidecar-client', 'sidecar-server'],
        haproxy: ['haproxy-a', 'haproxy-b'],
        'haproxy-http': ['haproxy-a', 'haproxy-b', 'haproxy-h'],
      };
      for (const m of modes)
        for (const c of rep.settings.connections) {
          const p = rep.points.find((x) => x.mode === m && x.connections === c);
          assert.ok(p, `a point for ${m} on ${c} connections`);
          assert.equal(p.errors, 0, `${m}/${c}: no errors`);
          assert.ok(
            p.completed > 0 && Number.isFinite(p.p99) && Number.isFinite(p.p999),
            `${m}/${c}: latency`,
          );
          assert.deepEqual(
            Object.keys(p.cpuSPer1000).sort(),
            paths[m],
            `${m}: the mesh processes on its path`,
          );
          if (m !== 'no-mesh') {
            assert.ok(Number.isFinite(p.added.p99), `${m}/${c}: added latency over no mesh`);
            assert.ok(p.cpuTotalSPer1000 > 0 && p.rssTotalMb > 10, `${m}/${c}: CPU and RSS read from /proc`);
          }
        }
      assert.ok(
        rep.bulk.every((b) => b.errors === 0 && b.mbPerSec > 0),
        'bulk moved bytes in every mode',
      );
      assert.equal(
        rep.goals.p99.length,
        rep.settings.connections.length,
        'the p99 goal at each connection count',
      );
      const mem = rep.memory!;
      assert.equal(Object.keys(mem.sidecar!.processes).length, 1, 'one sidecar per pod');
      assert.deepEqual(Object.keys(mem.ambient!.processes).sort(), ['node-1', 'node-2']);
      assert.ok(mem.ambient!.errors === 0 && mem.sidecar!.errors === 0 && rep.goals.memory!.ratio > 0);
      for (const plot of ['latency', 'added', 'cpu'])
        assert.match(await readFile(join(out, `quick-${plot}.svg`), 'utf8'), /^<svg /, `${plot} plot`);
      // Left as found: namespace default ambient, the bench's pairs and the waypoint gone.
      const curl = cluster.pods.find((p) => p.namespace === 'default' && p.deployment === 'curl')!;
      assert.equal(await captured(curl.netns), true, 'namespace default is ambient again');
      assert.deepEqual(
        cluster.pods
          .filter((p) => p.namespace.startsWith('bench-') || p.name.startsWith('waypoint'))
          .map((p) => p.name),
        [],
      );
    });
  },
);
