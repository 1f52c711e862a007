import { fork, type ChildProcess } from 'node:child_process';
import type { Writable } from 'node:stream';
import type { ReadyMessage } from './protocol.js';

/** A forked Node child of the benchmark that said it is ready (and, for servers, on which port). */
export interface Child {
  proc: ChildProcess;
  port: number;
  name: string;
}

/**
 * Forks `file` (a sibling script of the compiled benchmark) with `args` and waits for its `ready`
 * message. The child inherits stderr so its crashes are visible; stdout is dropped unless `stdout` (a
 * stream with a file descriptor, e.g. another child's stdin) is given.
 */
export function startChild(
  name: string,
  file: URL,
  args: readonly string[],
  execArgv: readonly string[] = [],
  timeoutMs = 15_000,
  stdout: 'ignore' | Writable = 'ignore',
): Promise<Child> {
  const proc = fork(file, [...args], {
    execArgv: [...execArgv],
    stdio: ['ignore', stdout, 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`bench: ${name} did not report ready within ${timeoutMs} ms`));
    }, timeoutMs);
    const onExit = (code: number | null): void => {
      clearTimeout(timer);
      reject(new Error(`bench: ${name} exited (code ${code}) before it was ready; see its stderr above`));
    };
    proc.once('exit', onExit);
    proc.once('message', (m: ReadyMessage) => {
      clearTimeout(timer);
      proc.off('exit', onExit);
      resolve({ proc, port: m.port, name });
    });
  });
}

/** Asks a child to exit (it writes its CPU profile, if any, on the way out); kills it after `graceMs`. */
export function stopChild(proc: ChildProcess, graceMs = 5000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
    proc.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    if (proc.connected) proc.send({ type: 'stop' });
    else proc.kill('SIGTERM');
  });
}

/** In a child: calls `stop` then exits when the parent says stop or goes away. */
export function onStop(stop: () => void): void {
  const exit = (): void => {
    stop();
    process.exit(0);
  };
  process.on('message', (m: { type?: string }) => {
    if (m.type === 'stop') exit();
  });
  process.on('disconnect', exit);
  process.on('SIGTERM', exit);
}

/**
 * The body of a load-generator child: runs each test the runner sends (`{type:'run', id, test}`) and
 * answers `{type:'result', id, result}`; a test that throws answers a result with one error.
 */
export function serveLoadTests<T extends { kind: string }>(run: (test: T) => Promise<unknown>): void {
  process.on('message', (m: { type: string; id: number; test: T }) => {
    if (m.type !== 'run') return;
    run(m.test).then(
      (result) => process.send?.({ type: 'result', id: m.id, result }),
      (err: unknown) =>
        process.send?.({
          type: 'result',
          id: m.id,
          result: {
            kind: m.test.kind,
            count: 0,
            errors: 1,
            firstError: err instanceof Error ? err.message : String(err),
            elapsedMs: 0,
            perSec: 0,
          },
        }),
    );
  });
  onStop(() => {});
  process.send?.({ type: 'ready', port: 0 });
}
