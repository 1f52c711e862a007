/**
 * The node-level DaemonSets: ztunnel (Istio's capabilities, not privileged, projected CA token,
 * readiness on 15021, maxSurge 1 / maxUnavailable 0, system-node-critical) and the node agent (finds
 * pod network namespaces, installs the in-pod rules, hands them to ztunnel over /var/run/ztunnel).
 */
import { ZTUNNEL_NODE_FLAGS } from '../../ztunnel/node-flags.js';
import {
  CA_TOKEN_FILE,
  CA_TOKEN_MOUNT,
  CA_TOKEN_VOLUME,
  DOWNWARD_ENV,
  ISTIOD_PLAINTEXT_ADDRESS,
  ISTIOD_SECURE_ADDRESS,
  NAMESPACE,
  NODE_TOLERATIONS,
  PART_OF,
  ROOT_CERT_MOUNT,
  ROOT_CERT_VOLUME,
  image,
  type KubeObject,
} from './objects.js';
import { daemonSetSurge, type KubeTarget } from './target.js';
import type { InstallValues } from './values.js';

const ZTUNNEL_SOCKET_DIR = '/var/run/ztunnel';
export const ZTUNNEL_SOCKET = `${ZTUNNEL_SOCKET_DIR}/ztunnel.sock`;

export function ztunnelObjects(v: InstallValues, t: KubeTarget): KubeObject[] {
  const labels = { app: 'ztunnel', ...PART_OF };
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'ztunnel', namespace: NAMESPACE, labels } },
    {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'ztunnel', namespace: NAMESPACE, labels },
      spec: {
        selector: { matchLabels: { app: 'ztunnel' } },
        // The new ztunnel takes over each pod's listeners before the old one drains (no gap); where
        // the API server has no surge (before 1.22), one node at a time is replaced.
        updateStrategy: {
          type: 'RollingUpdate',
          rollingUpdate: daemonSetSurge(t) ? { maxSurge: 1, maxUnavailable: 0 } : { maxUnavailable: 1 },
        },
        template: {
          metadata: {
            labels: { ...labels, 'sidecar.istio.io/inject': 'false', 'istio.io/dataplane-mode': 'none' },
          },
          spec: {
            serviceAccountName: 'ztunnel',
            nodeSelector: { 'kubernetes.io/os': 'linux' },
            priorityClassName: 'system-node-critical',
            terminationGracePeriodSeconds: v.ztunnel.terminationGracePeriodSeconds,
            tolerations: NODE_TOLERATIONS,
            containers: [
              {
                name: 'istio-proxy',
                image: image(v, 'ztunnel'),
                imagePullPolicy: v.images.pullPolicy,
                args: ['--mode=capture', `--capture-socket=${ZTUNNEL_SOCKET}`],
                ports: [{ name: 'ztunnel-stats', containerPort: 15020, protocol: 'TCP' }],
                readinessProbe: { httpGet: { path: '/healthz/ready', port: 15021 }, periodSeconds: 5 },
                env: [
                  { name: 'CA_ADDRESS', value: ISTIOD_PLAINTEXT_ADDRESS },
                  { name: 'XDS_ADDRESS', value: ISTIOD_PLAINTEXT_ADDRESS },
                  { name: 'SECURE_XDS_ADDRESS', value: ISTIOD_SECURE_ADDRESS },
                  { name: 'TOKEN_FILE', value: CA_TOKEN_FILE },
                  { name: 'TRUST_DOMAIN', value: v.trustDomain },
                  { name: 'CLUSTER_ID', value: v.clusterId },
                  { name: 'LOG_LEVEL', value: v.logLevel },
                  // V8's young generation, sized at start (src/ztunnel/node-flags.ts, docs/runtime.md).
                  { name: 'NODE_OPTIONS', value: ZTUNNEL_NODE_FLAGS.join(' ') },
                  {
                    name: 'TERMINATION_GRACE_PERIOD',
                    value: `${v.ztunnel.terminationGracePeriodSeconds - 5}s`,
                  },
                  ...DOWNWARD_ENV,
                ],
                resources: v.ztunnel.resources,
                securityContext: {
                  privileged: false,
                  allowPrivilegeEscalation: true, // implied by SYS_ADMIN (setns into pod network namespaces)
                  readOnlyRootFilesystem: true,
                  runAsUser: 0,
                  runAsGroup: 1337,
                  runAsNonRoot: false,
                  capabilities: { drop: ['ALL'], add: ['NET_ADMIN', 'SYS_ADMIN', 'NET_RAW'] },
                },
                volumeMounts: [
                  ROOT_CERT_MOUNT,
                  CA_TOKEN_MOUNT,
                  { name: 'cni-ztunnel-sock-dir', mountPath: ZTUNNEL_SOCKET_DIR },
                  { name: 'tmp', mountPath: '/tmp' },
                ],
              },
            ],
            volumes: [
              CA_TOKEN_VOLUME,
              ROOT_CERT_VOLUME,
              {
                name: 'cni-ztunnel-sock-dir',
                hostPath: { path: ZTUNNEL_SOCKET_DIR, type: 'DirectoryOrCreate' },
              },
              { name: 'tmp', emptyDir: {} },
            ],
          },
        },
      },
    },
  ];
}

const NODE_AGENT = 'meshlite-node-agent';

export function nodeAgentObjects(v: InstallValues): KubeObject[] {
  const labels = { app: NODE_AGENT, ...PART_OF };
  const meta = (name: string, ns?: string) => ({ name, ...(ns ? { namespace: ns } : {}), labels });
  const subjects = [{ kind: 'ServiceAccount', name: NODE_AGENT, namespace: NAMESPACE }];
  const binding = (name: string): KubeObject => ({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: meta(name),
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
    subjects,
  });
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(NODE_AGENT, NAMESPACE) },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: meta(NODE_AGENT),
      rules: [
        { apiGroups: [''], resources: ['pods', 'nodes', 'namespaces'], verbs: ['get', 'list', 'watch'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: meta(`${NODE_AGENT}-ambient`),
      // The redirection annotation goes through pods/status, as Istio's agent writes it.
      rules: [
        { apiGroups: [''], resources: ['pods/status'], verbs: ['patch', 'update'] },
        { apiGroups: ['apps'], resources: ['daemonsets'], resourceNames: [NODE_AGENT], verbs: ['get'] },
      ],
    },
    binding(NODE_AGENT),
    binding(`${NODE_AGENT}-ambient`),
    {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: meta(NODE_AGENT, NAMESPACE),
      spec: {
        selector: { matchLabels: { app: NODE_AGENT } },
        updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
        template: {
          metadata: {
            labels: { ...labels, 'sidecar.istio.io/inject': 'false', 'istio.io/dataplane-mode': 'none' },
          },
          spec: {
            serviceAccountName: NODE_AGENT,
            nodeSelector: { 'kubernetes.io/os': 'linux' },
            priorityClassName: 'system-node-critical',
            terminationGracePeriodSeconds: 30,
            tolerations: NODE_TOLERATIONS,
            containers: [
              {
                name: 'node-agent',
                image: image(v, 'node-agent'),
                imagePullPolicy: v.images.pullPolicy,
                args: [
                  `--ztunnel-socket=${ZTUNNEL_SOCKET}`,
                  `--netns-dir=/host${v.nodeAgent.netnsDir}`,
                  '--proc-dir=/host/proc',
                  `--exclude-namespaces=${v.nodeAgent.excludeNamespaces.join(',')}`,
                ],
                ports: [{ name: 'metrics', containerPort: 15014, protocol: 'TCP' }],
                readinessProbe: { httpGet: { path: '/readyz', port: 8000 }, periodSeconds: 5 },
                env: [{ name: 'LOG_LEVEL', value: v.logLevel }, ...DOWNWARD_ENV],
                resources: v.nodeAgent.resources,
                securityContext: {
                  privileged: false,
                  runAsUser: 0,
                  runAsGroup: 0,
                  runAsNonRoot: false,
                  readOnlyRootFilesystem: true,
                  capabilities: {
                    drop: ['ALL'],
                    add: ['NET_ADMIN', 'NET_RAW', 'SYS_PTRACE', 'SYS_ADMIN', 'DAC_OVERRIDE'],
                  },
                },
                volumeMounts: [
                  { name: 'host-proc', mountPath: '/host/proc', readOnly: true },
                  {
                    name: 'host-netns',
                    mountPath: `/host${v.nodeAgent.netnsDir}`,
                    mountPropagation: 'HostToContainer',
                  },
                  { name: 'cni-ztunnel-sock-dir', mountPath: ZTUNNEL_SOCKET_DIR },
                  { name: 'tmp', mountPath: '/tmp' },
                ],
              },
            ],
            volumes: [
              { name: 'host-proc', hostPath: { path: '/proc', type: 'Directory' } },
              { name: 'host-netns', hostPath: { path: v.nodeAgent.netnsDir, type: 'DirectoryOrCreate' } },
              {
                name: 'cni-ztunnel-sock-dir',
                hostPath: { path: ZTUNNEL_SOCKET_DIR, type: 'DirectoryOrCreate' },
              },
              { name: 'tmp', emptyDir: {} },
            ],
          },
        },
      },
    },
  ];
}
