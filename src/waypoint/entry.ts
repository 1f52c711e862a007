import { runCli } from '../common/cli.js';

await runCli({
  name: 'waypoint',
  usage:
    'Usage: waypoint [options]\n\nwaypoint is the per-namespace L7 proxy: HTTP routing, retries, timeouts, faults, mirroring, L7 authorization, reached over HBONE.',
  schema: {},
  main: async () => {
    process.stderr.write('waypoint: not yet available in this version; see the README for what runs today\n');
    return 1;
  },
});
