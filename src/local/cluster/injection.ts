/**
 * Sidecar injection in the local cluster, as Istio's webhook and `istio-init` do it: which pods get a
 * sidecar (Istio's selectors and precedence), the `istio-proxy` container added first (the native
 * sidecar starts before the app), and the pod's capture rules.
 */
import type { Container, PodSpecIn } from './manifests.js';
import { SIDECAR_STATUS, TUNNEL_LABEL } from '../../sidecar/injection-policy.js';

export {
  INJECT_LABEL,
  NS_INJECTION_LABEL,
  SIDECAR_STATUS,
  wantsSidecar,
} from '../../sidecar/injection-policy.js';

export interface InjectContext {
  execPath: string;
  xdsAddress: string;
  tokenFile: string;
}

/** The `istio-proxy` container for a pod. */
export function sidecarContainer(p: PodSpecIn, ctx: InjectContext): Container {
  const l = p.labels;
  const app = l['service.istio.io/canonical-name'] ?? l['app.kubernetes.io/name'] ?? l.app ?? '';
  const version =
    l['service.istio.io/canonical-revision'] ?? l['app.kubernetes.io/version'] ?? l.version ?? '';
  return {
    name: 'istio-proxy',
    command: [ctx.execPath, '$(MESHLITE_DIST)/sidecar/main.js'],
    args: [
      '--pod-name',
      '$(POD_NAME)',
      '--namespace',
      p.namespace,
      '--pod-ip',
      '$(POD_IP)',
      '--service-account',
      p.serviceAccountName || 'default',
      '--workload',
      p.deployment ?? p.name,
      ...(app ? ['--app', app] : []),
      ...(version ? ['--version', version] : []),
      '--xds-address',
      ctx.xdsAddress,
      '--token-file',
      ctx.tokenFile,
    ],
    env: {},
    ports: [15001, 15006, 15008, 15020, 15021],
  };
}

/** The pod with its sidecar: `istio-proxy` first, the injection status recorded. */
export function inject(p: PodSpecIn, ctx: InjectContext): PodSpecIn {
  return {
    ...p,
    labels: { ...p.labels, [TUNNEL_LABEL]: 'http' },
    containers: [sidecarContainer(p, ctx), ...p.containers.filter((c) => c.name !== 'istio-proxy')],
    annotations: {
      ...(p.annotations ?? {}),
      [SIDECAR_STATUS]: JSON.stringify({ containers: ['istio-proxy'], initContainers: ['istio-init'] }),
    },
    sidecar: true,
  };
}
