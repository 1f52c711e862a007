#!/usr/bin/env node
// Builds the native addon (native/build/Release/meshlite_native.node) with the node-gyp that ships
// inside npm, against the Node headers already on this machine: nothing is downloaded.
// Runs from the root package's `install` script (so `npm ci` builds it) and as `npm run build:native`.
// A failed build does not fail the install: the mesh then runs in its loopback mode, and the
// root-only end-to-end tests fail loudly because the addon is missing.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const say = (msg) => console.error(`meshlite native: ${msg}`);
const built = join(here, 'build/Release/meshlite_native.node');

// `--if-missing` (npm start): build only when `npm ci` could not (say, g++ arrived only afterwards).
if (process.argv.includes('--if-missing') && existsSync(built)) process.exit(0);

if (process.platform !== 'linux') {
  say(`skipped on ${process.platform}: the native piece is Linux-only; the mesh runs in loopback mode`);
  process.exit(0);
}
if (process.env.MESHLITE_SKIP_NATIVE === '1') {
  say('skipped because MESHLITE_SKIP_NATIVE=1');
  process.exit(0);
}

// node-gyp: the one npm passes to lifecycle scripts, else npm's bundled copy next to this node.
function findNodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
    join(dirname(process.execPath), 'node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
  ];
  return candidates.find((p) => p && existsSync(p));
}

// Headers: an explicit nodedir wins; else the prefix this node was installed under (/usr on Debian's
// nodejs package, /usr/local for the official tarball), which holds include/node/node_api.h.
function findNodeDir() {
  const configured = process.env.npm_config_nodedir;
  if (configured && existsSync(join(configured, 'include/node/node_api.h'))) return configured;
  const prefix = resolve(dirname(process.execPath), '..');
  if (existsSync(join(prefix, 'include/node/node_api.h'))) return prefix;
  return undefined;
}

const nodeGyp = findNodeGyp();
const nodeDir = findNodeDir();
if (!nodeGyp) {
  say('not built: node-gyp not found (it ships with npm); the mesh will run in loopback mode');
  process.exit(0);
}
if (!nodeDir) {
  say(
    `not built: Node's headers (include/node/node_api.h) are not under ${resolve(dirname(process.execPath), '..')}; ` +
      'install them (Debian: the nodejs package from the distribution or NodeSource ships them) or set ' +
      'npm_config_nodedir; the mesh will run in loopback mode',
  );
  process.exit(0);
}

const args = [nodeGyp, 'rebuild', `--directory=${here}`, `--nodedir=${nodeDir}`, '--jobs=2'];
if (process.env.npm_config_loglevel !== 'silly') args.push('--silent');
const res = spawnSync(process.execPath, args, { stdio: 'inherit' });
if (res.status !== 0) {
  say(
    `build failed (node-gyp exit ${res.status ?? res.signal}); check that python3, make and g++ are ` +
      'installed; the mesh will run in loopback mode. Retry with: npm run build:native',
  );
  process.exit(0);
}
say(`built ${built} for Node.js ${process.version}`);
