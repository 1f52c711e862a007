/**
 * Runs `ip` / `nft` and friends without a shell (arguments are passed as an array, so names and
 * addresses can never be read as shell syntax). A failure names the command line and its stderr.
 */
import { spawn } from 'node:child_process';
import { MeshError } from '../../common/errors.js';

export interface CommandResult {
  stdout: string;
  stderr: string;
}

export interface CommandOptions {
  /** Written to the command's stdin (e.g. an nftables ruleset for `nft -f -`). */
  input?: string;
  /** Default 30 s. */
  timeoutMs?: number;
}

const PACKAGE_OF: Record<string, string> = { ip: 'iproute2', nft: 'nftables' };

/** A command line for messages, with arguments quoted where they need it. */
export function formatCommand(file: string, args: readonly string[]): string {
  return [file, ...args]
    .map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`))
    .join(' ');
}

/** Runs a program to completion; rejects with NETNS_ERR_COMMAND (exit code, stderr) on failure. */
export function runCommand(
  file: string,
  args: readonly string[],
  options: CommandOptions = {},
): Promise<CommandResult> {
  const line = formatCommand(file, args);
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 30_000,
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', (err: NodeJS.ErrnoException) => {
      const pkg = PACKAGE_OF[file];
      const hint = err.code === 'ENOENT' ? `: \`${file}\` not found${pkg ? ` (install ${pkg})` : ''}` : '';
      reject(
        new MeshError('NETNS_ERR_COMMAND', `\`${line}\` could not start${hint}: ${err.message}`, {
          cause: err,
        }),
      );
    });
    child.on('close', (code, signal) => {
      if (code === 0) {
        resolve({ stdout, stderr });
        return;
      }
      const how = signal ? `killed by ${signal}` : `exit ${code}`;
      const detail = stderr.trim() || stdout.trim() || 'no output';
      reject(new MeshError('NETNS_ERR_COMMAND', `\`${line}\` failed (${how}): ${detail}`));
    });
    child.stdin.on('error', () => {
      /* the command may exit before reading its input; its exit status tells what happened */
    });
    child.stdin.end(options.input ?? '');
  });
}
