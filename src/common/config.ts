import { MeshError } from './errors.js';

/**
 * Environment and flag parsing into a typed, documented config object.
 *
 * Each component declares a schema: for every option its flag, its environment variable, a default and
 * a one-line doc. `parseConfig` reads flags first, then the environment, then the default; a bad value
 * is an error that names the flag or variable, the value and what is expected. `helpText` prints the
 * schema, so `--help` and the docs never drift from the code.
 */
export interface OptionSpec<T> {
  /** Long flag without dashes, e.g. `xds-address`. */
  flag: string;
  /** Environment variable, e.g. `XDS_ADDRESS`. */
  env?: string;
  doc: string;
  default: T;
  /** Turns the raw text into a value, or throws a MeshError naming what was expected. */
  parse: (raw: string, source: string) => T;
  /** Boolean options may be given as a bare flag (`--tls`) or negated (`--no-tls`). */
  boolean?: boolean;
  /** The flag may be given more than once; its values (lists) are joined in order. */
  repeatable?: boolean;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Schema = Record<string, OptionSpec<any>>;
export type ConfigOf<S extends Schema> = { [K in keyof S]: S[K] extends OptionSpec<infer T> ? T : never };

export interface ParsedArgs<S extends Schema> {
  config: ConfigOf<S>;
  help: boolean;
  /** Positional arguments and everything after `--`. */
  rest: string[];
}

function invalid(source: string, raw: string, expected: string): MeshError {
  return new MeshError('CFG_ERR_INVALID', `${source}: "${raw}" is not ${expected}`);
}

export const parsers = {
  string: (raw: string): string => raw,
  int:
    (min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER) =>
    (raw: string, source: string): number => {
      const n = Number(raw);
      if (!Number.isInteger(n) || n < min || n > max)
        throw invalid(source, raw, `an integer in [${min}, ${max}]`);
      return n;
    },
  port: (raw: string, source: string): number => parsers.int(0, 65535)(raw, source),
  bool: (raw: string, source: string): boolean => {
    const v = raw.toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(v)) return true;
    if (['0', 'false', 'no', 'off'].includes(v)) return false;
    throw invalid(source, raw, 'a boolean (true/false)');
  },
  /** Durations: `250ms`, `10s`, `5m`, `1h`, or a bare number of milliseconds. Result in ms. */
  duration: (raw: string, source: string): number => {
    const ms = parseDuration(raw);
    if (ms === undefined) throw invalid(source, raw, 'a duration such as 500ms, 10s, 5m or 1h');
    return ms;
  },
  oneOf:
    <T extends string>(...values: T[]) =>
    (raw: string, source: string): T => {
      if (!(values as string[]).includes(raw)) throw invalid(source, raw, `one of ${values.join(', ')}`);
      return raw as T;
    },
  list: (raw: string): string[] =>
    raw
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0),
  /** `host:port` or `[v6]:port`. */
  hostPort: (raw: string, source: string): { host: string; port: number } => {
    const hp = splitHostPort(raw);
    if (!hp) throw invalid(source, raw, 'an address of the form host:port');
    return hp;
  },
};

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseDuration(raw: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(raw.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * UNITS[m[2] ?? 'ms']!);
}

/** Splits `host:port` / `[v6]:port`; undefined when malformed or the port is out of range. */
export function splitHostPort(raw: string): { host: string; port: number } | undefined {
  let host: string;
  let portText: string;
  if (raw.startsWith('[')) {
    const end = raw.indexOf(']');
    if (end < 0 || raw[end + 1] !== ':') return undefined;
    host = raw.slice(1, end);
    portText = raw.slice(end + 2);
  } else {
    const i = raw.lastIndexOf(':');
    if (i <= 0 || raw.indexOf(':') !== i) return undefined;
    host = raw.slice(0, i);
    portText = raw.slice(i + 1);
  }
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port > 65535 || host.length === 0) return undefined;
  return { host, port };
}

export function parseConfig<S extends Schema>(
  schema: S,
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): ParsedArgs<S> {
  const byFlag = new Map<string, [string, OptionSpec<unknown>]>();
  for (const [key, spec] of Object.entries(schema)) byFlag.set(spec.flag, [key, spec]);
  const fromFlags = new Map<string, unknown>();
  const rest: string[] = [];
  let help = false;

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      rest.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (!arg.startsWith('--')) {
      rest.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    let name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    let value: string | undefined = eq >= 0 ? arg.slice(eq + 1) : undefined;
    let entry = byFlag.get(name);
    if (!entry && name.startsWith('no-') && value === undefined) {
      const pos = byFlag.get(name.slice(3));
      if (pos?.[1].boolean) {
        entry = pos;
        name = name.slice(3);
        value = 'false';
      }
    }
    if (!entry) {
      const known = [...byFlag.keys()].map((f) => `--${f}`).join(', ');
      throw new MeshError('CFG_ERR_UNKNOWN_FLAG', `unknown flag --${name}; known flags: ${known}, --help`);
    }
    const [key, spec] = entry;
    if (value === undefined) {
      if (spec.boolean) value = 'true';
      else {
        value = argv[++i];
        if (value === undefined) throw new MeshError('CFG_ERR_MISSING_VALUE', `flag --${name} needs a value`);
      }
    }
    const parsed = spec.parse(value, `--${name}`);
    const prev = fromFlags.get(key);
    fromFlags.set(
      key,
      spec.repeatable && Array.isArray(prev) ? [...(prev as unknown[]), ...(parsed as unknown[])] : parsed,
    );
  }

  const config: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(schema)) {
    if (fromFlags.has(key)) config[key] = fromFlags.get(key);
    else if (spec.env && env[spec.env] !== undefined && env[spec.env] !== '')
      config[key] = spec.parse(env[spec.env]!, `environment variable ${spec.env}`);
    else config[key] = spec.default;
  }
  return { config: config as ConfigOf<S>, help, rest };
}

function showDefault(v: unknown): string {
  if (Array.isArray(v)) return v.join(',') || '(none)';
  if (v && typeof v === 'object' && 'host' in v && 'port' in v) return `${String(v.host)}:${String(v.port)}`;
  if (v === '') return '(none)';
  return String(v);
}

/** The options table for `--help` and the configuration reference. */
export function helpText<S extends Schema>(schema: S): string {
  const rows = Object.values(schema).map((s) => {
    const left = `  --${s.flag}${s.env ? ` (${s.env})` : ''}`;
    return `${left.padEnd(44)} ${s.doc} [default: ${showDefault(s.default)}]`;
  });
  return rows.join('\n');
}
