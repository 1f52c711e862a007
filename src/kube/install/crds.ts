/**
 * CustomResourceDefinitions: the Istio kinds the mesh reads (shipped, kept on uninstall as Istio's
 * are), and — for test environments only — a minimal Gateway API set an old API server accepts
 * (users apply the upstream Gateway API CRDs; Istio does not ship them either).
 *
 * The spec of each kind is validated by istiod (with field paths in its errors and status
 * conditions), so the schemas keep `spec` open and add, where the API server supports them
 * (1.25+), the CEL rules Istio's CRDs carry for the mistakes users make most.
 */
import { KINDS } from '../../istiod/config/kinds.js';
import { PART_OF, type KubeObject } from './objects.js';
import { celInCrds, type KubeTarget } from './target.js';

type Schema = Record<string, unknown>;

interface CrdKind {
  kind: string;
  group: string;
  versions: readonly string[];
  namespaced: boolean;
  plural: string;
  shortNames: readonly string[];
}

/** CEL rules per kind, from Istio's CRDs (only where 1.25+ serves them). */
const RULES: Record<string, Array<{ rule: string; message: string }>> = {
  AuthorizationPolicy: [
    {
      rule: '(has(self.selector) ? 1 : 0) + (has(self.targetRef) ? 1 : 0) + (has(self.targetRefs) ? 1 : 0) <= 1',
      message: 'only one of targetRefs or selector can be set',
    },
  ],
  PeerAuthentication: [
    {
      rule: '(has(self.selector) && has(self.selector.matchLabels) && self.selector.matchLabels.size() > 0) || !has(self.portLevelMtls)',
      message: 'portLevelMtls requires selector',
    },
  ],
};

function specSchema(kind: string, t: KubeTarget): Schema {
  const spec: Schema = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  const rules = RULES[kind];
  if (rules && celInCrds(t)) spec['x-kubernetes-validations'] = rules;
  return {
    type: 'object',
    properties: {
      spec,
      status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
    },
  };
}

function crd(info: CrdKind, t: KubeTarget, annotations: Record<string, string> = {}): KubeObject {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${info.plural}.${info.group}`, labels: { ...PART_OF }, annotations },
    spec: {
      group: info.group,
      names: {
        kind: info.kind,
        listKind: `${info.kind}List`,
        plural: info.plural,
        singular: info.kind.toLowerCase(),
        ...(info.shortNames.length ? { shortNames: [...info.shortNames] } : {}),
        ...(info.group.endsWith('istio.io')
          ? { categories: ['istio-io', `${info.group.split('.')[0]}-istio-io`] }
          : {}),
      },
      scope: info.namespaced ? 'Namespaced' : 'Cluster',
      versions: info.versions.map((name, i) => ({
        name,
        served: true,
        storage: i === 0,
        subresources: { status: {} },
        additionalPrinterColumns: [{ name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' }],
        schema: { openAPIV3Schema: specSchema(info.kind, t) },
      })),
    },
  };
}

/** The Istio kinds the mesh reads (networking.istio.io, security.istio.io, ...). */
export function istioCrds(t: KubeTarget): KubeObject[] {
  // Kept on uninstall, as Istio's base chart keeps them: deleting a CRD deletes every object of it.
  return KINDS.filter((k) => k.group.endsWith('.istio.io')).map((k) =>
    crd(k, t, { 'helm.sh/resource-policy': 'keep' }),
  );
}

const GATEWAY_API_KINDS: CrdKind[] = [
  {
    kind: 'GatewayClass',
    group: 'gateway.networking.k8s.io',
    versions: ['v1', 'v1beta1'],
    namespaced: false,
    plural: 'gatewayclasses',
    shortNames: ['gc'],
  },
  ...KINDS.filter((k) => k.group === 'gateway.networking.k8s.io'),
];

/**
 * Gateway API CRDs for test environments: the kinds the mesh uses, with open schemas, in a form
 * Kubernetes 1.20 accepts (the upstream ones need CEL). Not shipped: on a real cluster apply the
 * upstream standard-install.yaml (docs/kubernetes.md).
 */
export function gatewayApiCrdsForTests(t: KubeTarget): KubeObject[] {
  // *.k8s.io groups need the approval annotation; "unapproved, ..." is the value for copies.
  return GATEWAY_API_KINDS.map((k) =>
    crd(k, t, {
      'meshlite.dev/test-only': 'true',
      'api-approved.kubernetes.io': 'unapproved, test-only copy of the Gateway API kinds the mesh uses',
    }),
  );
}

/** The GatewayClasses istiod serves: istio-waypoint (waypoints) and istio (ingress gateways). */
export function gatewayClasses(): KubeObject[] {
  return [
    [
      'istio-waypoint',
      'istio.io/mesh-controller',
      'The meshlite waypoint: L7 proxy for services of a namespace',
    ],
    ['istio', 'istio.io/gateway-controller', 'The meshlite ingress gateway'],
  ].map(([name, controllerName, description]) => ({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'GatewayClass',
    metadata: { name: name!, labels: { ...PART_OF } },
    spec: { controllerName, description },
  }));
}
