/**
 * ztunnel's memory against its Node/V8 flags, side by side: per variant (a list of flags), a fresh
 * loopback ztunnel pair (state file, local CA; as the ztunnel benchmark) carries HTTP/1.1 1 KiB at a
 * fixed rate over 4 and then 64 connections through SOCKS5; variants interleaved round by round. Per
 * variant: the pair's idle RSS, peak RSS under load (sampled every 250 ms), CPU ms per 1000 requests
 * and the latency percentiles (median over rounds).
 *
 *   node dist/bench/ztunnel/memory.js [--rounds 3] [--seconds 4] [--rate 1000]
 *        [--variants 'default=;semi2=--max-semi-space-size=2']   (';' between variants, ',' between flags)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startChild, stopChild } from '../hbone/child.js';
import { median } from '../hbone/stats.js';
import { meshAddresses, writeCaDir, writeStateFile } from './mesh-files.js';
import type { Target, ZtResultMessage, ZtTestResult } from './protocol.js';
import { cpuMs } from '../hbone/topology.js';
import { rssKb } from './procs.js';
import { ZtunnelProcess } from './ztunnel-process.js';
import { ZTUNNEL_NODE_FLAGS } from '../../src/ztunnel/node-flags.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '4' },
    rate: { type: 'string', default: '1000' },
    variants: { type: 'string', default: `default=;shipped=${ZTUNNEL_NODE_FLAGS.join(',')}` },
  },
});
const variants = values.variants.split(';').map((v) => {
  const eq = v.indexOf('=');
  const name = eq < 0 ? v : v.slice(0, eq);
  const flags = eq < 0 ? '' : v.slice(eq + 1);
  return { name, flags: flags.split(',').filter(Boolean) };
});
const here = (f: string): URL => new URL(`./${f}`, import.meta.url);
const a = meshAddresses(97);
const dir = mkdtempSync(join(tmpdir(), 'zt-mem-'));
writeCaDir(dir);
const stateFile = writeStateFile(dir, a, 'state.yaml');
const server = await startChild('http server', here('http-server.js'), [`${a.server}:${a.serverPort}`]);
const loadgen = await startChild('load generator', here('loadgen.js'), []);
const target: Target = {
  via: 'socks5',
  proxy: { host: a.node1, port: 15080 },
  localAddress: a.client,
  dst: { ip: a.server, port: a.serverPort },
};
let nextId = 1;
function run(connections: number): Promise<ZtTestResult> {
  const id = nextId++;
  const test = {
    kind: 'fixedRate',
    target,
    rate: Number(values.rate),
    connections,
    durationMs: Number(values.seconds) * 1000,
  };
  return new Promise((resolve) => {
    const on = (m: ZtResultMessage): void => {
      if (m.type !== 'result' || m.id !== id) return;
      loadgen.proc.off('message', on);
      resolve(m.result);
    };
    loadgen.proc.on('message', on);
    loadgen.proc.send({ type: 'run', id, test });
  });
}

interface Row {
  idleMb: number[];
  peakMb: number[];
  cpuPer1k: number[];
  p50: number[];
  p99: number[];
  errors: number;
}
const rows = new Map<string, Row>(
  variants.map((v) => [v.name, { idleMb: [], peakMb: [], cpuPer1k: [], p50: [], p99: [], errors: 0 }]),
);
try {
  for (let round = 1; round <= Number(values.rounds); round++) {
    for (const v of round % 2 ? variants : [...variants].reverse()) {
      const common = { stateFile, caDir: dir, workers: 1, args: ['--dns-port', '0'], nodeFlags: v.flags };
      const z1 = await ZtunnelProcess.start({ ...common, node: 'node-1', nodeIp: a.node1 });
      const z2 = await ZtunnelProcess.start({ ...common, node: 'node-2', nodeIp: a.node2 });
      const pids = [z1.proc.pid!, z2.proc.pid!];
      const rss = (): number => pids.reduce((s, p) => s + rssKb(p), 0) / 1024;
      await new Promise((r) => setTimeout(r, 1000));
      const row = rows.get(v.name)!;
      row.idleMb.push(rss());
      let peak = 0;
      const timer = setInterval(() => (peak = Math.max(peak, rss())), 250);
      const cpu0 = pids.reduce((s, p) => s + cpuMs(p), 0);
      let n = 0;
      for (const conns of [4, 64]) {
        const r = await run(conns);
        n += r.count;
        row.errors += r.errors;
        row.p50.push(r.latencyMs!.p50);
        row.p99.push(r.latencyMs!.p99);
      }
      clearInterval(timer);
      row.peakMb.push(Math.max(peak, rss()));
      row.cpuPer1k.push(((pids.reduce((s, p) => s + cpuMs(p), 0) - cpu0) / n) * 1000);
      process.stderr.write(`round ${round} ${v.name}: peak ${peak.toFixed(1)} MB\n`);
      await z1.stop();
      await z2.stop();
    }
  }
} finally {
  await stopChild(loadgen.proc);
  await stopChild(server.proc);
  rmSync(dir, { recursive: true, force: true });
}
const f = (x: number[], d = 1): string => median(x).toFixed(d).padStart(9);
process.stdout.write(
  `ztunnel pair, ${values.rate} req/s over 4 then 64 connections, ${values.rounds} rounds (medians)\n` +
    `variant      idle MB  peak MB  CPU ms/1k  p50 ms    p99 ms   errors  flags\n`,
);
for (const v of variants) {
  const r = rows.get(v.name)!;
  process.stdout.write(
    `${v.name.padEnd(10)}${f(r.idleMb)}${f(r.peakMb)}${f(r.cpuPer1k, 0)}${f(r.p50, 3)}${f(r.p99, 3)}${String(r.errors).padStart(8)}  ${v.flags.join(' ') || '(none)'}\n`,
  );
}
