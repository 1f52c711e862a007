/**
 * Named network namespaces (`ip netns`): create, delete, list, and run programs inside them.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { execArgs, linkUpArgs, netnsAddArgs, netnsDeleteArgs, sysctlWrite } from './args.js';
import { runCommand, type CommandOptions, type CommandResult } from './command.js';
import { parseNetnsList, type NetnsEntry } from './parse.js';

/** Creates a namespace and brings its loopback up (REDIRECT to a local listener needs `lo`). */
export async function createNetns(name: string): Promise<void> {
  await runCommand('ip', netnsAddArgs(name));
  await runCommand('ip', linkUpArgs(name, 'lo'));
}

/** Deletes a namespace; with `ignoreMissing`, one that is already gone is not an error. */
export async function deleteNetns(name: string, opts: { ignoreMissing?: boolean } = {}): Promise<void> {
  try {
    await runCommand('ip', netnsDeleteArgs(name));
  } catch (err) {
    if (opts.ignoreMissing && !(await listNetns()).some((n) => n.name === name)) return;
    throw err;
  }
}

export async function listNetns(): Promise<NetnsEntry[]> {
  const { stdout } = await runCommand('ip', ['-j', 'netns', 'list']);
  return parseNetnsList(stdout);
}

/** Runs a program inside the namespace to completion (`ip netns exec`). */
export function execInNetns(
  name: string,
  file: string,
  args: readonly string[] = [],
  options: CommandOptions = {},
): Promise<CommandResult> {
  return runCommand('ip', execArgs(name, file, args), options);
}

/** Starts a long-running program inside the namespace; the caller owns the child process. */
export function spawnInNetns(
  name: string,
  file: string,
  args: readonly string[] = [],
  options: SpawnOptions = {},
): ChildProcess {
  return spawn('ip', execArgs(name, file, args), options);
}

/** Sets a sysctl inside the namespace (net.* keys are per namespace), e.g. net.ipv4.ip_forward=1. */
export async function setNetnsSysctl(name: string, key: string, value: string | number): Promise<void> {
  const { path, input } = sysctlWrite(key, value);
  await execInNetns(name, 'tee', [path], { input });
}
