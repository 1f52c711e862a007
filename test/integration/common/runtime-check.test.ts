/**
 * Each executable started by hand on an older Node (the machine's own, here) exits 1 with one clear
 * message before it loads anything else.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { REQUIRED_NODE_MAJOR } from '../../../src/common/runtime.js';

const SYSTEM_NODE = '/usr/bin/node';
let systemMajor = 0;
try {
  systemMajor = Number(execFileSync(SYSTEM_NODE, ['-p', 'process.versions.node']).toString().split('.')[0]);
} catch {
  /* no system node */
}
const skip =
  systemMajor === 0
    ? `no ${SYSTEM_NODE} on this machine`
    : systemMajor >= REQUIRED_NODE_MAJOR
      ? `${SYSTEM_NODE} is Node ${systemMajor}, not older than ${REQUIRED_NODE_MAJOR}`
      : false;

for (const name of ['meshctl', 'istiod', 'ztunnel', 'waypoint']) {
  test(`${name} on an older Node exits 1 and names the command to use`, { skip }, async () => {
    const main = fileURLToPath(new URL(`../../../src/${name}/main.js`, import.meta.url));
    const r = await new Promise<{ code: number | null; err: string }>((res) =>
      execFile(SYSTEM_NODE, [main, '--help'], (e, _out, err) =>
        res({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, err }),
      ),
    );
    assert.equal(r.code, 1);
    assert.match(r.err, new RegExp(`^${name}: meshlite runs on Node.js ${REQUIRED_NODE_MAJOR} or newer`));
    assert.match(r.err, new RegExp(`bin/${name} \\.\\.\\.`));
  });
}
