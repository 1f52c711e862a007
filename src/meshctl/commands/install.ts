/**
 * `meshctl install [--dry-run] [-f VALUES]... [--set K=V]...` and `meshctl uninstall [--purge]`:
 * the mesh on a Kubernetes cluster, applied through its API (server-side apply), from
 * deploy/kubernetes/values.yaml and the user's overrides.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parsers } from '../../common/config.js';
import { errorMessage } from '../../common/errors.js';
import { parseCommand } from '../options.js';
import { renderFiles } from '../../kube/install/render.js';
import { CURRENT_TARGET, parseKubeVersion } from '../../kube/install/target.js';
import { loadValues } from '../../kube/install/values.js';

const INSTALL_USAGE = `Usage: meshctl install [--dry-run] [-f VALUES.yaml]... [--set KEY=VALUE]... [--kubeconfig FILE]

Installs meshlite on the Kubernetes cluster of the kubeconfig (default $KUBECONFIG, else
~/.kube/config): the Istio CRDs, namespace istio-system with istiod, the ztunnel and node agent
DaemonSets, and the GatewayClasses istio-waypoint and istio (where the Gateway API CRDs are
installed). Values: deploy/kubernetes/values.yaml; -f lays a file of yours over them, --set one value.
--dry-run prints the objects (for Kubernetes --kube-version, default ${CURRENT_TARGET.major}.${CURRENT_TARGET.minor}) and changes nothing.`;

const UNINSTALL_USAGE = `Usage: meshctl uninstall [--purge] [--kubeconfig FILE]

Deletes what meshctl install applied and waits until it is gone. The Istio CRDs stay, as Istio's do
(deleting a CRD deletes every object of that kind), unless --purge, which also deletes them and the
istio-ca-root-cert ConfigMaps. Unlabel namespaces and delete waypoints first.`;

const COMMON = {
  kubeconfig: {
    flag: 'kubeconfig',
    env: 'KUBECONFIG',
    doc: 'kubeconfig file (its current context)',
    default: join(homedir(), '.kube', 'config'),
    parse: parsers.string,
  },
};

const INSTALL_SCHEMA = {
  ...COMMON,
  dryRun: {
    flag: 'dry-run',
    doc: 'print the objects, change nothing',
    default: false,
    parse: parsers.bool,
    boolean: true,
  },
  kubeVersion: {
    flag: 'kube-version',
    doc: 'with --dry-run: render for this Kubernetes version (e.g. 1.20)',
    default: `${CURRENT_TARGET.major}.${CURRENT_TARGET.minor}`,
    parse: parsers.string,
  },
  outputDir: {
    flag: 'output-dir',
    doc: 'with --dry-run: write crds.yaml, meshlite.yaml and gateway-classes.yaml into this directory',
    default: '',
    parse: parsers.string,
  },
  gatewayApiCrds: {
    flag: 'gateway-api-crds',
    doc: 'where the Gateway API CRDs are missing, install a minimal test-only set (not for production clusters)',
    default: false,
    parse: parsers.bool,
    boolean: true,
  },
};

const UNINSTALL_SCHEMA = {
  ...COMMON,
  purge: {
    flag: 'purge',
    doc: 'also delete the Istio CRDs and root ConfigMaps',
    default: false,
    parse: parsers.bool,
    boolean: true,
  },
};

/** Takes the repeatable -f/--values and --set out of argv. */
export function splitRepeatable(argv: readonly string[]): {
  files: string[];
  sets: string[];
  rest: string[];
} {
  const files: string[] = [];
  const sets: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const m = /^(-f|--values|--filename|--set)(?:=(.*))?$/.exec(a);
    if (!m) {
      rest.push(a);
      continue;
    }
    const value = m[2] ?? argv[++i];
    if (value === undefined) throw new Error(`${m[1]} needs a value`);
    (m[1] === '--set' ? sets : files).push(value);
  }
  return { files, sets, rest };
}

export async function runInstall(argv: string[]): Promise<number> {
  try {
    const { files, sets, rest } = splitRepeatable(argv);
    const args = parseCommand(INSTALL_USAGE, INSTALL_SCHEMA, rest);
    if (!args) return 0;
    const values = loadValues(files, sets);
    if (args.config.dryRun) {
      const out = renderFiles(values, parseKubeVersion(args.config.kubeVersion));
      if (!args.config.outputDir) {
        process.stdout.write(Object.values(out).join(''));
        return 0;
      }
      const { writeFile } = await import('node:fs/promises');
      for (const [name, text] of Object.entries(out)) {
        await writeFile(join(args.config.outputDir, name), text);
        process.stdout.write(`wrote ${join(args.config.outputDir, name)}\n`);
      }
      return 0;
    }
    const { loadKubeConfig } = await import('../../istiod/config/kube-client.js');
    const { install } = await import('../../kube/install/apply.js');
    const kc = loadKubeConfig(args.config.kubeconfig);
    const target = await install(kc, values, {
      gatewayApiCrds: args.config.gatewayApiCrds,
      log: (l) => process.stdout.write(`${l}\n`),
    });
    process.stdout.write(`meshlite installed (manifests for Kubernetes ${target.major}.${target.minor})\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`meshctl install: ${errorMessage(err)}\n`);
    return 1;
  }
}

export async function runUninstall(argv: string[]): Promise<number> {
  try {
    const args = parseCommand(UNINSTALL_USAGE, UNINSTALL_SCHEMA, argv);
    if (!args) return 0;
    const { loadKubeConfig } = await import('../../istiod/config/kube-client.js');
    const { uninstall } = await import('../../kube/install/apply.js');
    const kc = loadKubeConfig(args.config.kubeconfig);
    await uninstall(kc, loadValues(), {
      purge: args.config.purge,
      log: (l) => process.stdout.write(`${l}\n`),
    });
    process.stdout.write('meshlite uninstalled\n');
    return 0;
  } catch (err) {
    process.stderr.write(`meshctl uninstall: ${errorMessage(err)}\n`);
    return 1;
  }
}
