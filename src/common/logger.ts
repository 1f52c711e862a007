import { pino, type Logger, type LevelWithSilent } from 'pino';
import { BatchedDestination } from './log-batch.js';

export type { Logger };

export const LOG_LEVELS: readonly LevelWithSilent[] = [
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
];

export interface LoggerOptions {
  /** Component name, printed as `component` in every line. */
  component: string;
  /** Level; default from LOG_LEVEL, else `info`. */
  level?: LevelWithSilent;
  /** Where to write (a file descriptor or stream); default stdout. */
  destination?: number | NodeJS.WritableStream;
  /**
   * Write to the file descriptor at most once per this many ms: lines that come faster wait (at most
   * that long) and go out together (see log-batch.ts); for processes with a per-request access log.
   * 0 (default): every line is written as it comes.
   */
  batchMs?: number;
}

export function isLogLevel(value: string): value is LevelWithSilent {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

/**
 * A JSON logger (pino). One per process component; children carry per-connection fields.
 * Use `logger.level = 'debug'` to change the level at runtime (the admin endpoint does this).
 */
export function createLogger(opts: LoggerOptions): Logger {
  const envLevel = process.env.LOG_LEVEL;
  const level = opts.level ?? (envLevel && isLogLevel(envLevel) ? envLevel : 'info');
  const fd = opts.destination === undefined ? 1 : opts.destination;
  const dest =
    typeof fd !== 'number'
      ? fd
      : opts.batchMs
        ? new BatchedDestination(fd, opts.batchMs)
        : pino.destination({ dest: fd, sync: false });
  return pino(
    {
      level,
      base: { component: opts.component },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    dest,
  );
}

/** A logger that prints nothing, for tests and benchmarks that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
