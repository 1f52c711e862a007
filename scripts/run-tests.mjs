#!/usr/bin/env node
// Runs the compiled test files with node's own test runner, one runner per file, two files at a time
// (end-to-end files one at a time).
// Usage: node scripts/run-tests.mjs [unit|integration|e2e ...] [--name-pattern X]
//
// Why one runner per file: on this machine node's runner has, rarely, left a test file hanging before
// it printed anything (no test started, so --test-timeout never fired for it). Each file here gets a
// watchdog: a file that prints nothing for START_TIMEOUT_S is killed and run once more, and that is
// reported; a file still running after FILE_TIMEOUT_S fails. The counts come from each file's TAP
// summary, and the run ends with one plain line: "tests: N passed, N failed, N skipped".
import { readdirSync, statSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawn } from 'node:child_process';

// The tests run on the project's Node.js (node_modules/.bin/node, which `npm test` puts on PATH).
const { runtimeProblem } = await import('../dist/src/common/runtime.js').catch(() => {
  console.error('run-tests: dist/ is missing; run `npm test` (it builds first)');
  process.exit(1);
});
const problem = runtimeProblem('run-tests', process.versions.node, 'scripts/run-tests.mjs');
if (problem) {
  console.error(problem);
  process.exit(1);
}

const layers = ['unit', 'integration', 'e2e'];
const args = process.argv.slice(2);
const chosen = args.filter((a) => layers.includes(a));
const passThrough = args.filter((a) => !layers.includes(a));
const root = 'dist/test';
const CONCURRENCY = Number(process.env.TEST_CONCURRENCY ?? '2');
const START_TIMEOUT_S = Number(process.env.TEST_START_TIMEOUT_S ?? '60');
const FILE_TIMEOUT_S = Number(process.env.TEST_FILE_TIMEOUT_S ?? '300');

function collect(dir, out) {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) collect(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const files = [];
for (const layer of chosen.length ? chosen : layers) collect(join(root, layer), files);
if (files.length === 0) {
  console.error(`no test files under ${root} for ${chosen.join(', ') || 'any layer'}; did the build run?`);
  process.exit(1);
}

// The HBONE integration tests run a second time on HBONE's own HTTP/2 framer (docs/hbone.md); the
// h2-* files pick their implementations themselves.
const runs = files.map((file) => ({ file, env: {}, label: file }));
for (const file of files) {
  if (file.includes('/integration/hbone/') && !/\/h2-[^/]*$/.test(file))
    runs.push({ file, env: { HBONE_IMPL: 'own' }, label: `${file} [HBONE_IMPL=own]` });
}

const tapDir = mkdtempSync(join(tmpdir(), 'meshlite-tap-'));
const totals = { tests: 0, pass: 0, fail: 0, skipped: 0, cancelled: 0, todo: 0 };
const failedFiles = [];
const retried = [];
let seq = 0;

// Each test file runs in a process group of its own, so the watchdog (and an interrupted run) kills
// what the file started too (control planes, clusters' helpers), not only the test process.
const live = new Set();
function killGroup(child) {
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}
for (const sig of ['SIGINT', 'SIGTERM'])
  process.on(sig, () => {
    for (const c of live) killGroup(c);
    process.exit(130);
  });

// Every process a file starts carries this token in its environment, also those that left the
// file's process group (`meshctl up --detach` starts a session of its own): after an end-to-end file
// they are killed, and a cluster the file left up is taken down, so the files after it start clean.
const TOKEN_VAR = 'MESHLITE_TEST_RUN';

function killTokenHolders(token) {
  const mark = `${TOKEN_VAR}=${token}\0`;
  let n = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (!readFileSync(`/proc/${pid}/environ`, 'latin1').includes(mark)) continue;
      process.kill(Number(pid), 'SIGKILL');
      n++;
    } catch {
      /* gone, or not ours to read */
    }
  }
  return n;
}

const cluster = await import('../dist/src/local/cluster/cluster.js');
const network = await import('../dist/src/local/cluster/network.js');
const fabricOwner = () => network.fabricOwner().catch(() => undefined);

/** Takes down a cluster a file left up (one that was not up when the file started); says what it did. */
async function cleanUpAfter(file, token, ownerBefore) {
  const killed = killTokenHolders(token);
  const owner = await fabricOwner();
  const leftCluster = owner !== undefined && owner !== ownerBefore;
  if (!killed && !leftCluster) return '';
  let says = `⚠ ${file}: left ${killed} process(es)${leftCluster ? ` and the cluster on ${owner}` : ''} behind; cleaned up\n`;
  if (!leftCluster) return says;
  const scratch = mkdtempSync(join(tmpdir(), 'meshlite-cleanup-'));
  await cluster
    .cleanupCluster(owner.replace(/-h$/, ''), scratch, (m) => (says += `  ${m}\n`))
    .catch((err) => (says += `  cleanup failed: ${err.message}\n`));
  rmSync(scratch, { recursive: true, force: true });
  return says;
}

function runOnce({ file, env }) {
  const tap = join(tapDir, `${seq++}.tap`);
  const token = randomUUID();
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [
        '--test',
        '--test-timeout=180000',
        '--test-reporter=spec',
        '--test-reporter-destination=stdout',
        '--test-reporter=tap',
        `--test-reporter-destination=${tap}`,
        ...passThrough,
        file,
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, ...env, [TOKEN_VAR]: token },
        detached: true,
      },
    );
    live.add(child);
    let out = '';
    let printed = false;
    const onData = (d) => {
      out += d.toString();
      printed = true;
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    let why;
    const startTimer = setTimeout(() => {
      if (!printed) {
        why = 'hung-at-start';
        killGroup(child);
      }
    }, START_TIMEOUT_S * 1000);
    const fileTimer = setTimeout(() => {
      why = 'timeout';
      killGroup(child);
    }, FILE_TIMEOUT_S * 1000);
    child.on('close', (code, signal) => {
      live.delete(child);
      clearTimeout(startTimer);
      clearTimeout(fileTimer);
      resolve({ code, signal, out, why, tap, token });
    });
  });
}

function summaryOf(tap) {
  const s = { tests: 0, pass: 0, fail: 0, skipped: 0, cancelled: 0, todo: 0 };
  if (!existsSync(tap)) return s;
  for (const line of readFileSync(tap, 'utf8').split('\n')) {
    const m = /^# (tests|pass|fail|skipped|cancelled|todo) (\d+)$/.exec(line);
    if (m) s[m[1]] = Number(m[2]);
  }
  return s;
}

async function runFile(run) {
  const file = run.label;
  const e2e = run.file.includes('/e2e/');
  const once = async () => {
    const before = e2e ? await fabricOwner() : undefined;
    const r = await runOnce(run);
    if (e2e) r.out += await cleanUpAfter(file, r.token, before);
    return r;
  };
  let r = await once();
  if (r.why === 'hung-at-start') {
    retried.push(file);
    process.stdout.write(
      `⚠ ${file}: printed nothing in ${START_TIMEOUT_S} s (the runner hung before any test); running it again\n`,
    );
    r = await once();
  }
  process.stdout.write(r.out);
  const s = summaryOf(r.tap);
  for (const k of Object.keys(totals)) totals[k] += s[k];
  const bad = r.code !== 0 || s.fail > 0 || s.cancelled > 0 || r.why !== undefined;
  if (bad) {
    failedFiles.push(
      `${file}${r.why ? ` (${r.why === 'timeout' ? `still running after ${FILE_TIMEOUT_S} s` : 'hung twice before any test'})` : ''}`,
    );
    if (r.why) totals.fail += 1;
  }
}

// End-to-end files build network-namespace clusters on fixed addresses (the fabric 10.244.255.0/24,
// the host's routes into it): one of them at a time, beside the files of the other layers.
let e2eTail = Promise.resolve();
function runExclusive(file) {
  const run = e2eTail.then(() => runFile(file));
  e2eTail = run.catch(() => undefined);
  return run;
}

const started = Date.now();
const queue = [...runs];
await Promise.all(
  Array.from({ length: Math.max(1, CONCURRENCY) }, async () => {
    while (queue.length > 0) {
      const run = queue.shift();
      await (run.file.includes('/e2e/') ? runExclusive(run) : runFile(run));
    }
  }),
);
rmSync(tapDir, { recursive: true, force: true });

const secs = ((Date.now() - started) / 1000).toFixed(1);
process.stdout.write(`\n${runs.length} test file runs in ${secs} s`);
if (retried.length) process.stdout.write(`; re-run after hanging at start: ${retried.join(', ')}`);
process.stdout.write('\n');
if (failedFiles.length)
  process.stdout.write(`failing files:\n${failedFiles.map((f) => `  ${f}`).join('\n')}\n`);
const ok = failedFiles.length === 0 && totals.fail === 0 && totals.tests > 0;
process.stdout.write(
  `tests: ${totals.pass} passed, ${totals.fail + totals.cancelled} failed, ${totals.skipped} skipped\n`,
);
process.exit(ok ? 0 : 1);
