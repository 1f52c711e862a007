/**
 * meshctl: dispatches `meshctl <command> ...` to the command table (src/meshctl/commands/).
 */
import { errorMessage, MeshError } from '../common/errors.js';
import { COMMANDS } from './commands/index.js';

// `meshctl status | head`: a reader that goes away early is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`);
  return `Usage: meshctl <command> [options]

meshctl is the command line of the mesh. Run meshctl <command> --help for a command's options.

Commands:
${lines.join('\n')}
  ${'help'.padEnd(width)}this text
`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(usage());
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`meshctl: unknown command "${name}"; run meshctl --help for the list\n`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (err instanceof MeshError) {
      process.stderr.write(`meshctl ${name}: ${err.message} [${err.code}]\n`);
      return 2;
    }
    process.stderr.write(`meshctl ${name}: ${errorMessage(err)}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
