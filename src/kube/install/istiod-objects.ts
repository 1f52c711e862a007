/**
 * istiod: its ServiceAccount, RBAC (as Istio's istiod ClusterRoles and Role, trimmed to what this
 * istiod does), Deployment, Service (15010 xDS, 15012 mTLS xDS + CA, 443→15017 webhooks, 15014
 * monitoring), the sidecar injector's MutatingWebhookConfiguration (istiod patches its caBundle)
 * and, with more than one replica, a PodDisruptionBudget and the shared CA (Secret `cacerts`) the
 * replicas sign with.
 */
import { PART_OF, NAMESPACE, image, type KubeObject } from './objects.js';
import { pdbApiVersion, type KubeTarget } from './target.js';
import type { InstallValues } from './values.js';

const LABELS = { app: 'istiod', istio: 'pilot', ...PART_OF };
const SELECTOR = { app: 'istiod', istio: 'pilot' };
const read = ['get', 'list', 'watch'];

function istiodRbac(): KubeObject[] {
  const meta = (name: string, ns?: string) => ({ name, ...(ns ? { namespace: ns } : {}), labels: LABELS });
  const subjects = [{ kind: 'ServiceAccount', name: 'istiod', namespace: NAMESPACE }];
  return [
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: meta(`istiod-clusterrole-${NAMESPACE}`),
      rules: [
        {
          apiGroups: ['admissionregistration.k8s.io'],
          resources: ['mutatingwebhookconfigurations', 'validatingwebhookconfigurations'],
          verbs: [...read, 'update', 'patch'],
        },
        {
          apiGroups: [
            'networking.istio.io',
            'security.istio.io',
            'telemetry.istio.io',
            'extensions.istio.io',
          ],
          resources: ['*'],
          verbs: read,
        },
        {
          apiGroups: ['networking.istio.io', 'security.istio.io'],
          resources: ['*/status'],
          verbs: ['get', 'update', 'patch'],
        },
        { apiGroups: ['apiextensions.k8s.io'], resources: ['customresourcedefinitions'], verbs: read },
        { apiGroups: [''], resources: ['pods', 'nodes', 'services', 'namespaces', 'endpoints'], verbs: read },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: read },
        { apiGroups: ['apps'], resources: ['deployments'], verbs: read },
        { apiGroups: [''], resources: ['configmaps'], verbs: ['create', ...read, 'update'] },
        { apiGroups: [''], resources: ['secrets'], verbs: read },
        { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
        { apiGroups: ['authorization.k8s.io'], resources: ['subjectaccessreviews'], verbs: ['create'] },
        { apiGroups: ['gateway.networking.k8s.io'], resources: ['*'], verbs: read },
        { apiGroups: ['gateway.networking.k8s.io'], resources: ['*/status'], verbs: ['update', 'patch'] },
        {
          apiGroups: ['gateway.networking.k8s.io'],
          resources: ['gatewayclasses'],
          verbs: ['create', 'update', 'patch', 'delete'],
        },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: meta(`istiod-gateway-controller-${NAMESPACE}`),
      rules: [
        {
          apiGroups: ['apps'],
          resources: ['deployments'],
          verbs: ['create', ...read, 'update', 'patch', 'delete'],
        },
        {
          apiGroups: ['autoscaling'],
          resources: ['horizontalpodautoscalers'],
          verbs: ['create', ...read, 'update', 'patch', 'delete'],
        },
        {
          apiGroups: ['policy'],
          resources: ['poddisruptionbudgets'],
          verbs: ['create', ...read, 'update', 'patch', 'delete'],
        },
        {
          apiGroups: [''],
          resources: ['services', 'serviceaccounts'],
          verbs: ['create', ...read, 'update', 'patch', 'delete'],
        },
      ],
    },
    ...[`istiod-clusterrole-${NAMESPACE}`, `istiod-gateway-controller-${NAMESPACE}`].map(
      (role): KubeObject => ({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: meta(role),
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
        subjects,
      }),
    ),
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: meta('istiod', NAMESPACE),
      rules: [
        {
          apiGroups: [''],
          resources: ['secrets'],
          verbs: ['create', 'get', 'watch', 'list', 'update', 'delete'],
        },
        { apiGroups: [''], resources: ['configmaps'], verbs: ['delete'] },
        {
          apiGroups: ['coordination.k8s.io'],
          resources: ['leases'],
          verbs: ['get', 'update', 'patch', 'create'],
        },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: meta('istiod', NAMESPACE),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'istiod' },
      subjects,
    },
  ];
}

/**
 * Istio's injector selectors for the default revision: pods in namespaces labelled
 * `istio-injection=enabled` (unless the pod says `sidecar.istio.io/inject=false`), and pods labelled
 * `sidecar.istio.io/inject=true` in namespaces with neither injection label. No caBundle: istiod
 * writes it.
 */
export function injectorWebhookConfig(v: InstallValues): KubeObject {
  const hook = (name: string, namespaceSelector: object, objectSelector: object) => ({
    name,
    clientConfig: { service: { name: 'istiod', namespace: NAMESPACE, path: '/inject', port: 443 } },
    rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
    failurePolicy: v.sidecar.failurePolicy,
    sideEffects: 'None',
    reinvocationPolicy: 'Never',
    admissionReviewVersions: ['v1', 'v1beta1'],
    timeoutSeconds: 10,
    namespaceSelector,
    objectSelector,
  });
  const noRev = { key: 'istio.io/rev', operator: 'DoesNotExist' };
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: 'istio-sidecar-injector', labels: { ...LABELS, 'istio.io/rev': 'default' } },
    webhooks: [
      hook(
        'namespace.sidecar-injector.istio.io',
        { matchExpressions: [noRev, { key: 'istio-injection', operator: 'In', values: ['enabled'] }] },
        { matchExpressions: [{ key: 'sidecar.istio.io/inject', operator: 'NotIn', values: ['false'] }] },
      ),
      hook(
        'object.sidecar-injector.istio.io',
        { matchExpressions: [noRev, { key: 'istio-injection', operator: 'DoesNotExist' }] },
        { matchExpressions: [noRev, { key: 'sidecar.istio.io/inject', operator: 'In', values: ['true'] }] },
      ),
    ],
  };
}

export function istiodObjects(v: InstallValues, t: KubeTarget): KubeObject[] {
  const replicas = v.istiod.replicas;
  const args = [
    '--in-cluster',
    `--trust-domain=${v.trustDomain}`,
    `--cluster-id=${v.clusterId}`,
    `--log-level=${v.logLevel}`,
    '--ca-dir=/var/run/meshlite/ca',
    `--waypoint-image=${image(v, 'waypoint')}`,
    `--waypoint-resources=${JSON.stringify(v.waypoint.resources)}`,
    `--gateway-image=${image(v, 'gateway')}`,
    `--injection-image=${image(v, 'sidecar')}`,
    `--injection-resources=${JSON.stringify(v.sidecar.resources)}`,
    // Replicas must sign with one CA: more than one needs the plugged-in CA (Secret cacerts).
    ...(replicas > 1 ? ['--cacerts-dir=/etc/cacerts'] : []),
  ];
  const out: KubeObject[] = [
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'istiod', namespace: NAMESPACE, labels: LABELS },
    },
    ...istiodRbac(),
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'istiod', namespace: NAMESPACE, labels: { ...LABELS, 'istio.io/rev': 'default' } },
      spec: {
        replicas,
        selector: { matchLabels: SELECTOR },
        strategy: { rollingUpdate: { maxSurge: '100%', maxUnavailable: '25%' } },
        template: {
          metadata: {
            labels: {
              ...LABELS,
              'istio.io/rev': 'default',
              'istio.io/dataplane-mode': 'none',
              'sidecar.istio.io/inject': 'false',
            },
          },
          spec: {
            serviceAccountName: 'istiod',
            securityContext: {
              runAsNonRoot: true,
              runAsUser: 1337,
              runAsGroup: 1337,
              fsGroup: 1337,
              seccompProfile: { type: 'RuntimeDefault' },
            },
            tolerations: [{ key: 'cni.istio.io/not-ready', operator: 'Exists' }],
            containers: [
              {
                name: 'discovery',
                image: image(v, 'istiod'),
                imagePullPolicy: v.images.pullPolicy,
                args,
                ports: [
                  { name: 'grpc-xds', containerPort: 15010, protocol: 'TCP' },
                  { name: 'tls-xds', containerPort: 15012, protocol: 'TCP' },
                  { name: 'http-monitoring', containerPort: 15014, protocol: 'TCP' },
                  { name: 'https-webhooks', containerPort: 15017, protocol: 'TCP' },
                ],
                readinessProbe: {
                  httpGet: { path: '/ready', port: 15014 },
                  initialDelaySeconds: 1,
                  periodSeconds: 3,
                  timeoutSeconds: 5,
                },
                env: [
                  { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                  { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                  {
                    name: 'SERVICE_ACCOUNT',
                    valueFrom: { fieldRef: { fieldPath: 'spec.serviceAccountName' } },
                  },
                  { name: 'REVISION', value: 'default' },
                  { name: 'PILOT_ENABLE_AMBIENT', value: 'true' },
                ],
                resources: v.istiod.resources,
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ['ALL'] },
                },
                volumeMounts: [
                  { name: 'ca-data', mountPath: '/var/run/meshlite/ca' },
                  { name: 'cacerts', mountPath: '/etc/cacerts', readOnly: true },
                  { name: 'tmp', mountPath: '/tmp' },
                ],
              },
            ],
            volumes: [
              { name: 'ca-data', emptyDir: {} },
              { name: 'cacerts', secret: { secretName: 'cacerts', optional: replicas === 1 } },
              { name: 'tmp', emptyDir: {} },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'istiod', namespace: NAMESPACE, labels: { ...LABELS, 'istio.io/rev': 'default' } },
      spec: {
        selector: SELECTOR,
        ports: [
          { name: 'grpc-xds', port: 15010, targetPort: 15010, protocol: 'TCP' },
          { name: 'https-dns', port: 15012, targetPort: 15012, protocol: 'TCP' },
          { name: 'https-webhook', port: 443, targetPort: 15017, protocol: 'TCP' },
          { name: 'http-monitoring', port: 15014, targetPort: 15014, protocol: 'TCP' },
        ],
      },
    },
  ];
  out.push(injectorWebhookConfig(v));
  if (replicas > 1)
    out.push({
      apiVersion: pdbApiVersion(t),
      kind: 'PodDisruptionBudget',
      metadata: { name: 'istiod', namespace: NAMESPACE, labels: LABELS },
      spec: { minAvailable: 1, selector: { matchLabels: SELECTOR } },
    });
  return out;
}
