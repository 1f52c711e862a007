import { parseConfig, helpText, type Schema, type ConfigOf } from './config.js';
import { MeshError, errorMessage } from './errors.js';

export interface CliSpec<S extends Schema> {
  /** Program name as typed by the user. */
  name: string;
  /** One paragraph: what the program is and how to call it. */
  usage: string;
  schema: S;
  main: (config: ConfigOf<S>, rest: string[]) => Promise<number | void>;
}

/**
 * The shared entry point of the executables: parses flags and environment, prints `--help` from the
 * schema, and turns a thrown MeshError into one clear line and exit status 2 (1 for anything else).
 */
export async function runCli<S extends Schema>(
  spec: CliSpec<S>,
  argv = process.argv.slice(2),
): Promise<void> {
  let parsed;
  try {
    parsed = parseConfig(spec.schema, argv);
  } catch (err) {
    process.stderr.write(`${spec.name}: ${errorMessage(err)}\n`);
    process.exitCode = 2;
    return;
  }
  if (parsed.help) {
    const opts = helpText(spec.schema);
    process.stdout.write(
      `${spec.usage}\n${opts ? `\nOptions (flag, environment variable):\n${opts}\n` : ''}`,
    );
    return;
  }
  try {
    const code = await spec.main(parsed.config, parsed.rest);
    if (typeof code === 'number') process.exitCode = code;
  } catch (err) {
    if (err instanceof MeshError) {
      process.stderr.write(`${spec.name}: ${err.message} [${err.code}]\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(
        `${spec.name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exitCode = 1;
    }
  }
}
