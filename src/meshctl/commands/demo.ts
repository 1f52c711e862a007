/** Placeholder: the demo command is merged in from another branch. */
export function run(_argv: string[]): Promise<number> {
  process.stdout.write('demo: not part of this branch\n');
  return Promise.resolve(0);
}
