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
  /**
   * Gather lines written to a file descriptor for up to this many ms (or until 8 KiB) and write them
   * together (as Envoy buffers its access-log file): a per-request access log at 1000 req/s otherwise costs
   * one write(2) per line. 0 (default): each line is written as it comes. Flushed at exit.
   */
  bufferMs?: number;
}

export function isLogLevel(value: string): value is LevelWithSilent {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

/** Bytes of buffered log lines that trigger a write (below SonicBoom's 16 KiB write size). */
const LOG_BUFFER_BYTES = 8 * 1024;

/**
 * A JSON logger (pino). One per process component; children carry per-connection fields.
 * Use `logger.level = 'debug'` to change the level at runtime (the admin endpoint does this).
 */
export function createLogger(opts: LoggerOptions): Logger {
  const envLevel = process.env.LOG_LEVEL;
  const level = opts.level ?? (envLevel && isLogLevel(envLevel) ? envLevel : 'info');
  const dest =
    opts.destination === undefined || typeof opts.destination === 'number'
      ? pino.destination({
          dest: opts.destination ?? 1,
          sync: false,
          ...(opts.bufferMs ? { minLength: LOG_BUFFER_BYTES, periodicFlush: opts.bufferMs } : {}),
        })
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
