/**
 * Table columns of `meshctl get`, per kind, in the style of kubectl (NAME first, AGE last).
 */
import type { ConfigObject, KindMap } from '../istiod/config/types.js';
import { formatTable } from './text-table.js';

type Column = [header: string, value: (o: ConfigObject) => string];

function as<K extends keyof KindMap>(f: (o: KindMap[K]) => string): (o: ConfigObject) => string {
  return f as (o: ConfigObject) => string;
}

const EXTRA: Record<string, Column[]> = {
  Namespace: [['STATUS', () => 'Active']],
  Pod: [
    ['STATUS', as<'Pod'>((p) => p.status?.phase ?? 'Pending')],
    ['IP', as<'Pod'>((p) => p.status?.podIP ?? '<none>')],
    ['NODE', as<'Pod'>((p) => p.spec.nodeName ?? '<none>')],
  ],
  Service: [
    ['TYPE', as<'Service'>((s) => s.spec.type ?? 'ClusterIP')],
    ['CLUSTER-IP', as<'Service'>((s) => s.spec.clusterIP ?? '<none>')],
    [
      'PORT(S)',
      as<'Service'>(
        (s) => (s.spec.ports ?? []).map((p) => `${p.port}/${p.protocol ?? 'TCP'}`).join(',') || '<none>',
      ),
    ],
  ],
  Secret: [
    ['TYPE', as<'Secret'>((s) => s.type ?? 'Opaque')],
    [
      'DATA',
      as<'Secret'>((s) =>
        String(new Set([...Object.keys(s.data ?? {}), ...Object.keys(s.stringData ?? {})]).size),
      ),
    ],
  ],
  EndpointSlice: [
    ['ADDRESSTYPE', as<'EndpointSlice'>((e) => e.addressType)],
    [
      'PORTS',
      as<'EndpointSlice'>((e) => (e.ports ?? []).map((p) => String(p.port ?? '')).join(',') || '<unset>'),
    ],
    ['ENDPOINTS', as<'EndpointSlice'>((e) => e.endpoints.flatMap((x) => x.addresses).join(',') || '<unset>')],
  ],
  Deployment: [['REPLICAS', as<'Deployment'>((d) => String(d.spec.replicas ?? 1))]],
  ServiceEntry: [
    ['HOSTS', as<'ServiceEntry'>((s) => JSON.stringify(s.spec.hosts))],
    ['LOCATION', as<'ServiceEntry'>((s) => s.spec.location ?? '')],
    ['RESOLUTION', as<'ServiceEntry'>((s) => s.spec.resolution ?? '')],
  ],
  Gateway: [['CLASS', as<'Gateway'>((g) => g.spec.gatewayClassName)]],
  VirtualService: [
    ['GATEWAYS', as<'VirtualService'>((v) => JSON.stringify(v.spec.gateways ?? []))],
    ['HOSTS', as<'VirtualService'>((v) => JSON.stringify(v.spec.hosts ?? []))],
  ],
  DestinationRule: [['HOST', as<'DestinationRule'>((d) => d.spec.host)]],
  HTTPRoute: [['HOSTNAMES', as<'HTTPRoute'>((r) => JSON.stringify(r.spec.hostnames ?? []))]],
  GRPCRoute: [['HOSTNAMES', as<'GRPCRoute'>((r) => JSON.stringify(r.spec.hostnames ?? []))]],
  AuthorizationPolicy: [['ACTION', as<'AuthorizationPolicy'>((a) => a.spec.action ?? 'ALLOW')]],
  PeerAuthentication: [['MODE', as<'PeerAuthentication'>((p) => p.spec.mtls?.mode ?? '')]],
};

/** kubectl's age format: 45s, 12m, 5h, 3d. */
export function age(created: string | undefined, now = Date.now()): string {
  if (!created) return '<unknown>';
  const s = Math.max(0, Math.floor((now - Date.parse(created)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

export function renderTable(
  kind: string,
  objects: ConfigObject[],
  withNamespace: boolean,
  showLabels: boolean,
): string {
  const cols: Column[] = [
    ...(withNamespace ? [['NAMESPACE', (o: ConfigObject) => o.metadata.namespace ?? ''] as Column] : []),
    ['NAME', (o) => o.metadata.name],
    ...(EXTRA[kind] ?? []),
    ['AGE', (o) => age(o.metadata.creationTimestamp)],
    ...(showLabels
      ? [
          [
            'LABELS',
            (o: ConfigObject) =>
              Object.entries(o.metadata.labels ?? {})
                .map(([k, v]) => `${k}=${v}`)
                .join(',') || '<none>',
          ] as Column,
        ]
      : []),
  ];
  return formatTable(
    cols.map((c) => c[0]),
    objects.map((o) => cols.map((c) => c[1](o))),
    { gap: 3 },
  );
}
