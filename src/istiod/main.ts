#!/usr/bin/env node
import { runCli } from '../common/cli.js';

await runCli({
  name: 'istiod',
  usage:
    'Usage: istiod [options]\n\nistiod is the control plane: reads Istio-style config, pushes workload and policy state over delta xDS, signs workload certificates.',
  schema: {},
  main: async () => {
    process.stderr.write('istiod: not yet available in this version; see the README for what runs today\n');
    return 1;
  },
});
