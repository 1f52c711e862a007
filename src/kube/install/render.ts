/**
 * Renders the install: the objects in apply order, grouped as the files in deploy/kubernetes/
 * (crds.yaml, meshlite.yaml, gateway-classes.yaml), for a Kubernetes target.
 */
import { stringify } from 'yaml';
import { gatewayClasses, istioCrds } from './crds.js';
import { istiodObjects } from './istiod-objects.js';
import { nodeAgentObjects, ztunnelObjects } from './node-objects.js';
import { NAMESPACE, PART_OF, type KubeObject } from './objects.js';
import { CURRENT_TARGET, type KubeTarget } from './target.js';
import type { InstallValues } from './values.js';

export interface RenderedInstall {
  /** Istio CRDs: applied first, waited for (Established), kept on uninstall. */
  crds: KubeObject[];
  /** Namespace, istiod, ztunnel, node agent. */
  mesh: KubeObject[];
  /** GatewayClasses: need the Gateway API CRDs. */
  gatewayClasses: KubeObject[];
}

export function renderInstall(v: InstallValues, t: KubeTarget = CURRENT_TARGET): RenderedInstall {
  return {
    crds: istioCrds(t),
    mesh: [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE, labels: { ...PART_OF } } },
      ...istiodObjects(v, t),
      ...ztunnelObjects(v, t),
      ...nodeAgentObjects(v),
    ],
    gatewayClasses: gatewayClasses(),
  };
}

export const RENDERED_FILES = {
  crds: 'crds.yaml',
  mesh: 'meshlite.yaml',
  gatewayClasses: 'gateway-classes.yaml',
} as const;

const HEADER = (what: string) =>
  `# ${what}\n# Generated from deploy/kubernetes/values.yaml by \`meshctl install --dry-run\`: edit the values, not this file.\n`;

/** Objects as one multi-document YAML text (kubectl apply -f accepts it). */
export function toYaml(objects: readonly KubeObject[], what: string): string {
  return HEADER(what) + objects.map((o) => `---\n${stringify(o, { lineWidth: 0 })}`).join('');
}

export function renderFiles(v: InstallValues, t: KubeTarget = CURRENT_TARGET): Record<string, string> {
  const r = renderInstall(v, t);
  return {
    [RENDERED_FILES.crds]: toYaml(r.crds, 'The Istio CRDs the mesh reads (kept on uninstall).'),
    [RENDERED_FILES.mesh]: toYaml(r.mesh, 'meshlite: namespace istio-system, istiod, ztunnel, node agent.'),
    [RENDERED_FILES.gatewayClasses]: toYaml(
      r.gatewayClasses,
      'GatewayClasses istio-waypoint and istio (apply after the Gateway API CRDs).',
    ),
  };
}
