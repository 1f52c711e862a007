/**
 * Loads the native addon (native/build/Release/meshlite_native.node, built by `npm ci` through
 * native/build.mjs). Loading happens once, on first use; when the addon is missing (not Linux, no
 * compiler, MESHLITE_SKIP_NATIVE=1) `nativeStatus()` says why and every primitive throws
 * NATIVE_ERR_UNAVAILABLE, so callers can fall back to the mesh's loopback mode.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MeshError, errorMessage } from '../common/errors.js';

/** The raw addon; arguments are checked by the wrappers before they get here. */
export interface NativeBinding {
  /** A non-blocking, close-on-exec TCP socket; netnsPath '' means this namespace, mark -1 means none. */
  socket(family: 4 | 6, netnsPath: string, mark: number, transparent: boolean): number;
  bindListen(
    fd: number,
    ip: string,
    port: number,
    backlog: number,
    v6only: boolean,
    reusePort: boolean,
  ): void;
  getOriginalDst(fd: number): { ip: string; port: number; family: 4 | 6 };
  setMark(fd: number, mark: number): void;
  getMark(fd: number): number;
  setTransparent(fd: number, on: boolean): void;
  close(fd: number): void;
  /** glibc malloc_trim(0): free C heap pages back to the kernel; true when some were released. */
  mallocTrim(): boolean;
}

export interface NativeStatus {
  available: boolean;
  /** Where the addon was loaded from, when it was. */
  path?: string;
  /** Why it is not available, when it is not. */
  reason?: string;
}

const ADDON_RELATIVE = 'native/build/Release/meshlite_native.node';

let loaded: { binding?: NativeBinding; status: NativeStatus } | undefined;

/** Candidate addon paths: MESHLITE_NATIVE_ADDON, then native/ in each parent of this module's folder. */
export function addonCandidates(moduleDir: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const out: string[] = [];
  if (env.MESHLITE_NATIVE_ADDON) out.push(env.MESHLITE_NATIVE_ADDON);
  let dir = moduleDir;
  for (let i = 0; i < 5; i++) {
    out.push(join(dir, ADDON_RELATIVE));
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return out;
}

function load(): { binding?: NativeBinding; status: NativeStatus } {
  if (process.platform !== 'linux') {
    return {
      status: { available: false, reason: `the native piece is Linux-only (this is ${process.platform})` },
    };
  }
  const moduleDir = dirname(fileURLToPath(import.meta.url));
  const path = addonCandidates(moduleDir).find((p) => existsSync(p));
  if (!path) {
    return {
      status: {
        available: false,
        reason: `the native addon is not built (looked for ${ADDON_RELATIVE}); run \`npm run build:native\``,
      },
    };
  }
  try {
    const binding = createRequire(import.meta.url)(path) as NativeBinding;
    return { binding, status: { available: true, path } };
  } catch (err) {
    return { status: { available: false, path, reason: `loading ${path} failed: ${errorMessage(err)}` } };
  }
}

/** The addon when it loaded, else undefined (for optional uses that have a fallback). */
export function optionalNative(): NativeBinding | undefined {
  loaded ??= load();
  return loaded.binding;
}

/** Whether the native primitives can be used here, and if not, why. */
export function nativeStatus(): NativeStatus {
  loaded ??= load();
  return loaded.status;
}

/** The addon, or a NATIVE_ERR_UNAVAILABLE error that says why it is missing. */
export function requireNative(): NativeBinding {
  loaded ??= load();
  if (!loaded.binding) {
    throw new MeshError(
      'NATIVE_ERR_UNAVAILABLE',
      `native socket primitives unavailable: ${loaded.status.reason ?? 'unknown reason'}; the mesh can still run in loopback mode`,
    );
  }
  return loaded.binding;
}

/** Wraps an errno error from the addon into a MeshError naming what was attempted. */
export function nativeError(what: string, err: unknown, hint = ''): MeshError {
  const code = (err as { code?: unknown }).code;
  const errno = typeof code === 'string' ? code : 'EUNKNOWN';
  const extra = hint ? `; ${hint}` : '';
  return new MeshError('NATIVE_ERR_SYSCALL', `${what}: ${errorMessage(err)} (${errno})${extra}`, {
    cause: err,
  });
}
