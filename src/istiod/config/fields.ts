/**
 * Field readers for validation. Each reader checks one value at a field path, records a readable issue
 * when the value is wrong, and returns the value (or undefined), so validators read like the schema.
 */
import { isIP } from 'node:net';

export interface FieldIssue {
  /** Dotted path with list indexes, e.g. `spec.rules[0].from[1].source.principals`. */
  path: string;
  message: string;
}

type Obj = Record<string, unknown>;

interface Req {
  required?: boolean;
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

export function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isIpOrCidr(text: string): boolean {
  const slash = text.indexOf('/');
  if (slash < 0) return isIP(text) !== 0;
  const family = isIP(text.slice(0, slash));
  const prefix = text.slice(slash + 1);
  if (family === 0 || !/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}

export class Fields {
  readonly issues: FieldIssue[] = [];

  add(path: string, message: string): void {
    this.issues.push({ path, message });
  }

  private missing(value: unknown, path: string, opts: Req | undefined): boolean {
    if (value !== undefined && value !== null) return false;
    if (opts?.required) this.add(path, 'is required');
    return true;
  }

  object(value: unknown, path: string, opts?: Req): Obj | undefined {
    if (this.missing(value, path, opts)) return undefined;
    if (!isObj(value)) {
      this.add(path, `expected a map, got ${show(value)}`);
      return undefined;
    }
    return value;
  }

  array(value: unknown, path: string, opts?: Req & { nonEmpty?: boolean }): unknown[] | undefined {
    if (this.missing(value, path, opts)) return undefined;
    if (!Array.isArray(value)) {
      this.add(path, `expected a list, got ${show(value)}`);
      return undefined;
    }
    if (opts?.nonEmpty && value.length === 0) this.add(path, 'must not be empty');
    return value;
  }

  /** A list of maps; calls `each` with every map and its path. */
  objects(
    value: unknown,
    path: string,
    each: (item: Obj, path: string) => void,
    opts?: Req & { nonEmpty?: boolean },
  ): void {
    const list = this.array(value, path, opts);
    list?.forEach((item, i) => {
      const o = this.object(item, `${path}[${i}]`, { required: true });
      if (o) each(o, `${path}[${i}]`);
    });
  }

  string(value: unknown, path: string, opts?: Req & { nonEmpty?: boolean }): string | undefined {
    if (this.missing(value, path, opts)) return undefined;
    if (typeof value !== 'string') {
      this.add(path, `expected a string, got ${show(value)}`);
      return undefined;
    }
    if (opts?.nonEmpty && value.length === 0) this.add(path, 'must not be empty');
    return value;
  }

  bool(value: unknown, path: string, opts?: Req): boolean | undefined {
    if (this.missing(value, path, opts)) return undefined;
    if (typeof value !== 'boolean') {
      this.add(path, `expected true or false, got ${show(value)}`);
      return undefined;
    }
    return value;
  }

  int(value: unknown, path: string, opts?: Req & { min?: number; max?: number }): number | undefined {
    if (this.missing(value, path, opts)) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      this.add(path, `expected an integer, got ${show(value)}`);
      return undefined;
    }
    const min = opts?.min ?? Number.MIN_SAFE_INTEGER;
    const max = opts?.max ?? Number.MAX_SAFE_INTEGER;
    if (value < min || value > max) {
      this.add(path, `${value} is out of range [${min}, ${max}]`);
      return undefined;
    }
    return value;
  }

  port(value: unknown, path: string, opts?: Req): number | undefined {
    if (this.missing(value, path, opts)) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) {
      this.add(path, `${show(value)} is not a valid port number (an integer from 1 to 65535)`);
      return undefined;
    }
    return value;
  }

  /** A port number or an IANA_SVC_NAME (a named container port). */
  portOrName(value: unknown, path: string): void {
    if (value === undefined || value === null) return;
    if (typeof value === 'string') {
      if (/^\d+$/.test(value)) this.port(Number(value), path);
      else if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(value) || value.length > 15 || !/[a-z]/.test(value))
        this.add(
          path,
          `${show(value)} is not a port number or a port name (lower-case, at most 15 characters)`,
        );
      return;
    }
    this.port(value, path);
  }

  oneOf<T extends string>(value: unknown, path: string, allowed: readonly T[], opts?: Req): T | undefined {
    if (this.missing(value, path, opts)) return undefined;
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
      this.add(path, `${show(value)} is not one of ${allowed.join(', ')}`);
      return undefined;
    }
    return value as T;
  }

  strings(value: unknown, path: string, opts?: Req & { nonEmpty?: boolean }): string[] | undefined {
    const list = this.array(value, path, opts);
    if (!list) return undefined;
    let ok = true;
    list.forEach((item, i) => {
      if (typeof item !== 'string') {
        this.add(`${path}[${i}]`, `expected a string, got ${show(item)}`);
        ok = false;
      }
    });
    return ok ? (list as string[]) : undefined;
  }

  ipList(value: unknown, path: string, cidr: boolean): void {
    this.strings(value, path)?.forEach((s, i) => {
      const ok = cidr ? isIpOrCidr(s) : isIP(s) !== 0;
      if (!ok) this.add(`${path}[${i}]`, `${show(s)} is not an IP address${cidr ? ' or CIDR range' : ''}`);
    });
  }

  ip(value: unknown, path: string, opts?: Req): void {
    const s = this.string(value, path, opts);
    if (s !== undefined && isIP(s) === 0) this.add(path, `${show(s)} is not an IP address`);
  }

  stringMap(value: unknown, path: string): Record<string, string> | undefined {
    const o = this.object(value, path);
    if (!o) return undefined;
    for (const [k, v] of Object.entries(o))
      if (typeof v !== 'string') this.add(`${path}[${k}]`, `expected a string, got ${show(v)}`);
    return o as Record<string, string>;
  }

  labels(value: unknown, path: string): void {
    const map = this.stringMap(value, path);
    if (!map) return;
    for (const [k, v] of Object.entries(map)) {
      const problem = labelKeyProblem(k);
      if (problem) this.add(`${path}[${k}]`, problem);
      if (typeof v === 'string' && v !== '' && (v.length > 63 || !LABEL_NAME.test(v)))
        this.add(
          `${path}[${k}]`,
          `${show(v)} is not a valid label value (at most 63 characters: letters, digits, '-', '_', '.')`,
        );
    }
  }

  dnsLabel(value: string, path: string): void {
    if (value.length > 63 || !DNS1123_LABEL.test(value))
      this.add(
        path,
        `${show(value)} is not a valid name (lower-case letters, digits and '-', at most 63 characters)`,
      );
  }

  dnsSubdomain(value: string, path: string): void {
    if (value.length > 253 || !DNS1123_SUBDOMAIN.test(value))
      this.add(
        path,
        `${show(value)} is not a valid name (lower-case letters, digits, '-' and '.', at most 253 characters)`,
      );
  }
}

/** Why a label key is invalid, or undefined when it is fine. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.indexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix)))
    return `label key prefix ${show(prefix)} must be a DNS subdomain such as istio.io`;
  if (name.length === 0 || name.length > 63 || !LABEL_NAME.test(name))
    return `${show(key)} is not a valid label key (at most 63 characters: letters, digits, '-', '_', '.', with an optional prefix/)`;
  return undefined;
}
