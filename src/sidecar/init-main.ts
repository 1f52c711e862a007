#!/usr/bin/env node
// istio-init: the pod's capture rules, then exit (see init.ts).
import { checkRuntime } from '../common/runtime.js';

if (checkRuntime('sidecar-init')) {
  const [{ runCli }, { initSchema, initCapture, loadRuleset }, { sidecarRuleset }] = await Promise.all([
    import('../common/cli.js'),
    import('./init.js'),
    import('./rules.js'),
  ]);
  await runCli({
    name: 'sidecar-init',
    usage: `Usage: sidecar-init [options]

The init container of an injected pod (Istio's istio-init): loads the pod's nftables capture rules
(inbound TCP to 15006, outbound TCP to 15001, the proxy's own uid and the excluded ports and ranges let
through) into its network namespace, then exits.`,
    schema: initSchema,
    main: async (config) => {
      const ruleset = sidecarRuleset(initCapture(config));
      if (config.dryRun) process.stdout.write(ruleset);
      else await loadRuleset(ruleset);
      return 0;
    },
  });
}
