/**
 * Summarizes V8 `.cpuprofile` files (from `run.js --cpu-prof <dir>`): where the busy time went, by
 * function and by area (TLS, HTTP/2, streams, our code, GC, ...). Idle time is left out.
 * Usage: node dist/bench/hbone/profile-summary.js <file.cpuprofile>... [--top N]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Busy ms by function and by area in one profile. */
export function summarize(p: Profile): {
  busyMs: number;
  byFn: Map<string, number>;
  byArea: Map<string, number>;
} {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000));
  const byFn = new Map<string, number>();
  const byArea = new Map<string, number>();
  let busyMs = 0;
  for (const [id, ms] of self) {
    const f = byId.get(id)!.callFrame;
    if (f.functionName === '(idle)') continue;
    busyMs += ms;
    const file = f.url.replace(/^.*\/(node_modules|dist)\//, '').replace(/^node:/, '');
    const key = `${f.functionName || '(anonymous)'} ${file}:${f.lineNumber + 1}`;
    byFn.set(key, (byFn.get(key) ?? 0) + ms);
    const area = areaOf(f.functionName, f.url);
    byArea.set(area, (byArea.get(area) ?? 0) + ms);
  }
  return { busyMs, byFn, byArea };
}

function areaOf(fn: string, url: string): string {
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(program)') return 'native (program: syscalls, OpenSSL, nghttp2)';
  if (/internal\/tls|_tls_/.test(url)) return 'node tls (JS)';
  if (/internal\/http2/.test(url)) return 'node http2 (JS)';
  if (/internal\/streams|stream/.test(url)) return 'node streams (JS)';
  if (/net\.js|stream_base_commons/.test(url)) return 'node net (JS)';
  if (/\/src\/|\/bench\//.test(url)) return 'our code';
  if (url === '') return `native: ${fn}`;
  return 'other node internals';
}

function main(): void {
  const args = process.argv.slice(2);
  const ti = args.indexOf('--top');
  const top = ti >= 0 ? Number(args[ti + 1]) : 25;
  const files = args.filter((a, i) => a !== '--top' && i !== ti + 1);
  for (const file of files) {
    const s = summarize(JSON.parse(readFileSync(file, 'utf8')) as Profile);
    const pct = (ms: number): string => `${((100 * ms) / s.busyMs).toFixed(1).padStart(5)}%`;
    process.stdout.write(`\n${file}: ${s.busyMs.toFixed(0)} ms busy\n  by area:\n`);
    for (const [k, ms] of [...s.byArea].sort((a, b) => b[1] - a[1]))
      process.stdout.write(`    ${pct(ms)}  ${k}\n`);
    process.stdout.write('  top functions (self time):\n');
    for (const [k, ms] of [...s.byFn].sort((a, b) => b[1] - a[1]).slice(0, top))
      process.stdout.write(`    ${pct(ms)}  ${k}\n`);
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) main();
