/**
 * Writes a pino logger's lines for a record with fixed keys whose members the caller serializes itself
 * (`,"key":value...`), byte for byte as `logger.info(record, msg)` would write them: the logger's
 * level member, time, bindings, the members, the message and its line end, to its destination.
 *
 * Why: pino's generic object walk (per key: own-property check, serializer and redaction lookups,
 * escaping scan) costs more than the record's own work for the per-request access log. Only for
 * loggers where that walk would change nothing: `JsonLineWriter.of` returns undefined for a logger
 * with a mixin, a log formatter, a logMethod or streamWrite hook, a nested key, a message prefix,
 * serializers or redaction of the record's keys or the message, or a destination that wants pino's
 * per-line metadata (multistream); use `logger.info` then. Reads pino's state through `pino.symbols`
 * (exported for integrations); the unit test compares its lines with pino's own.
 */
import { pino, type Logger } from 'pino';

/** `msgPrefixSym` is exported at runtime but missing from the typings. */
const S = pino.symbols as typeof pino.symbols & { readonly msgPrefixSym: symbol };

/* eslint-disable @typescript-eslint/no-explicit-any -- pino's state behind its exported symbols */
type Pino = Logger & Record<symbol, any>;

export class JsonLineWriter {
  private readonly log: Pino;
  private readonly level: string;
  private readonly num: number;
  private readonly msgMember: string;

  private constructor(log: Pino, level: string, msg: string) {
    this.log = log;
    this.level = level;
    this.num = log.levels.values[level]!;
    this.msgMember = `,${JSON.stringify(log[S.messageKeySym])}:${JSON.stringify(msg)}`;
  }

  /** A writer for `level` lines with message `msg` and the members `keys`, or undefined (see above). */
  static of(logger: Logger, level: string, msg: string, keys: readonly string[]): JsonLineWriter | undefined {
    const log = logger as Pino;
    if (log.levels.values[level] === undefined) return undefined;
    const serializers = log[S.serializersSym] ?? {};
    const stringifiers = log[S.stringifiersSym] ?? {};
    const touched = (k: string): boolean => serializers[k] !== undefined || stringifiers[k] !== undefined;
    const ok =
      typeof log[S.timeSym] === 'function' &&
      typeof log[S.lsCacheSym]?.[log.levels.values[level]!] === 'string' &&
      typeof log[S.chindingsSym] === 'string' &&
      typeof log[S.messageKeySym] === 'string' &&
      !log[S.mixinSym] &&
      !log[S.nestedKeySym] &&
      !log[S.msgPrefixSym] &&
      !log[S.formattersSym]?.log &&
      !log[S.hooksSym]?.logMethod &&
      !log[S.hooksSym]?.streamWrite &&
      !stringifiers[S.wildcardFirstSym] &&
      !touched(log[S.messageKeySym]) &&
      !keys.some(touched) &&
      typeof log[S.streamSym]?.write === 'function' &&
      log[S.streamSym][S.needsMetadataGsym] !== true;
    return ok ? new JsonLineWriter(log, level, msg) : undefined;
  }

  /** Whether the logger's level lets the line through (it can change at runtime). */
  get enabled(): boolean {
    return this.log.isLevelEnabled(this.level);
  }

  /** One line; `members` is `,"key":json` for each key in order (JSON.stringify for strings). */
  write(members: string): void {
    const l = this.log;
    l[S.streamSym].write(
      `${l[S.lsCacheSym][this.num]}${l[S.timeSym]()}${l[S.chindingsSym]}${members}${this.msgMember}${l[S.endSym]}`,
    );
  }
}
