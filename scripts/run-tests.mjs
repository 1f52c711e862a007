#!/usr/bin/env node
// Runs the compiled test files with node's own test runner.
// Usage: node scripts/run-tests.mjs [unit|integration|e2e ...] [--name-pattern X]
// With no layer named, every layer runs. One runner invocation, so one summary at the end.
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const layers = ['unit', 'integration', 'e2e'];
const args = process.argv.slice(2);
const chosen = args.filter((a) => layers.includes(a));
const passThrough = args.filter((a) => !layers.includes(a));
const root = 'dist/test';

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
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
const res = spawnSync(
  process.execPath,
  [
    '--test',
    `--test-concurrency=${concurrency}`,
    '--test-timeout=180000',
    '--test-reporter=spec',
    ...passThrough,
    ...files,
  ],
  { stdio: 'inherit' },
);
process.exit(res.status ?? 1);
