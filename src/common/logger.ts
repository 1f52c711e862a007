import { pino, type Logger, type LevelWithSilent } from 'pino';

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
  const dest =
    opts.destination === undefined || typeof opts.destination === 'number'
      ? pino.destination({ dest: opts.destination ?? 1, sync: false })
      : opts.destination;
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
