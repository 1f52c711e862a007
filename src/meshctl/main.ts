#!/usr/bin/env node
import { runCli } from '../common/cli.js';

const USAGE = `Usage: meshctl <command> [options]

meshctl is the command line of the mesh.

Commands:
  demo        two proxies tunnel a request over HBONE (mutual TLS, SPIFFE identities) on loopback
  help        this text`;

await runCli({
  name: 'meshctl',
  usage: USAGE,
  schema: {},
  main: async (_config, rest) => {
    const [command] = rest;
    if (!command || command === 'help') {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    process.stderr.write(`meshctl: unknown command "${command}"; run meshctl --help for the list\n`);
    return 2;
  },
});
