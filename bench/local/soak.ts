/**
 * `meshctl bench --soak DURATION`: ambient L4 at a fixed rate for a long time (default 10 minutes at
 * 1000 req/s on 4 connections, curl pod -> Service echo), in back-to-back chunks of the load
 * generator, sampling both ztunnels' RSS after each chunk. Bounded: it stops after DURATION. Reports
 * errors, latency per chunk and RSS growth from the first chunk (after warm-up) to the last; the goal
 * is growth under 10 %.
 */
import type { ClusterFile } from '../../src/local/cluster/state.js';
import { percentile } from '../hbone/stats.js';
import type { RateOutput } from './loadgen.js';
import { sampleProc } from './proc-stats.js';
import { isAmbient, loadgen, setAmbient } from './run.js';

export interface SoakOptions {
  seconds: number;
  rate: number;
  conns: number;
  /** Seconds per load-generator run (one chunk). */
  chunk: number;
  progress: (m: string) => void;
}

export interface SoakChunk {
  t: number;
  completed: number;
  errors: number;
  p50: number;
  p99: number;
  /** RSS of each node's ztunnel after the chunk, MB. */
  rssMb: Record<string, number>;
}

export interface SoakReport {
  settings: Omit<SoakOptions, 'progress'>;
  chunks: SoakChunk[];
  errors: number;
  completed: number;
  /** Per ztunnel: RSS after the first chunk, after the last, growth in %. */
  rss: Record<string, { firstMb: number; lastMb: number; growthPct: number }>;
  met: boolean;
}

export async function runSoak(cluster: ClusterFile, o: SoakOptions): Promise<SoakReport> {
  const svc = cluster.services.find((s) => s.namespace === 'default' && s.name === 'echo');
  if (!svc) throw new Error('meshctl bench --soak: needs Service default/echo (the demo config)');
  if (!(await isAmbient(cluster.configDir))) await setAmbient(cluster.configDir, true);
  const chunks: SoakChunk[] = [];
  const end = Date.now() + o.seconds * 1000;
  while (Date.now() < end) {
    const secs = Math.max(1, Math.min(o.chunk, Math.round((end - Date.now()) / 1000)));
    const g = await loadgen<RateOutput>(cluster.stateDir, [
      ...['--mode', 'rate', '--host', svc.clusterIP, '--port', String(svc.ports[0]?.port ?? 8080)],
      ...['--rate', String(o.rate), '--conns', String(o.conns), '--seconds', String(secs), '--warmup', '0'],
    ]);
    const lat = Float64Array.from(g.latencyUs).sort();
    const rssMb: Record<string, number> = {};
    for (const n of cluster.nodes) {
      const s = n.ztunnel.pid ? sampleProc(n.ztunnel.pid) : undefined;
      rssMb[n.name] = s ? s.rssBytes / 1e6 : NaN;
    }
    const c: SoakChunk = {
      t: o.seconds - Math.max(0, Math.round((end - Date.now()) / 1000)),
      completed: g.completed,
      errors: g.errors,
      p50: percentile(lat, 0.5) / 1000,
      p99: percentile(lat, 0.99) / 1000,
      rssMb,
    };
    chunks.push(c);
    o.progress(
      `t=${c.t}s ${c.completed} ok, ${c.errors} errors, p50 ${c.p50.toFixed(3)} ms, p99 ${c.p99.toFixed(3)} ms, RSS ${Object.entries(
        rssMb,
      )
        .map(([k, v]) => `${k} ${v.toFixed(1)} MB`)
        .join(', ')}`,
    );
  }
  const rss: SoakReport['rss'] = {};
  for (const n of cluster.nodes) {
    const first = chunks[0]?.rssMb[n.name] ?? NaN;
    const last = chunks.at(-1)?.rssMb[n.name] ?? NaN;
    rss[n.name] = { firstMb: first, lastMb: last, growthPct: ((last - first) / first) * 100 };
  }
  const errors = chunks.reduce((a, c) => a + c.errors, 0);
  const { progress: _p, ...settings } = o;
  return {
    settings,
    chunks,
    errors,
    completed: chunks.reduce((a, c) => a + c.completed, 0),
    rss,
    met: errors === 0 && Object.values(rss).every((r) => r.growthPct < 10),
  };
}

export function formatSoak(r: SoakReport): string {
  const s = r.settings;
  const lines = [
    `soak: ambient L4, ${s.rate} req/s on ${s.conns} connections for ${s.seconds} s (${r.chunks.length} chunks of ${s.chunk} s)`,
    `requests ${r.completed} ok, ${r.errors} errors`,
    ...Object.entries(r.rss).map(
      ([n, x]) =>
        `ztunnel ${n}: RSS ${x.firstMb.toFixed(1)} MB after the first chunk, ${x.lastMb.toFixed(1)} MB at the end (${x.growthPct >= 0 ? '+' : ''}${x.growthPct.toFixed(1)} %)`,
    ),
    `goal (no errors, RSS growth < 10 %): ${r.met ? 'met' : 'NOT met'}`,
  ];
  return `${lines.join('\n')}\n`;
}
