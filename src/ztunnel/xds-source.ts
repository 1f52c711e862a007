import type * as grpc from '@grpc/grpc-js';
import type { Logger } from '../common/logger.js';
import { DeltaClient, type ResourceUpdate, type TypeWatch } from '../xds/delta-client.js';
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL } from '../xds/type-urls.js';
import { formatNodeId } from '../xds/node-id.js';
import type { Address } from '../xds/workload-types.js';
import type { Authorization } from '../xds/security-types.js';
import type { StateStore } from './state/store.js';
import { convertWorkload } from './state/convert-workload.js';
import { convertService } from './state/convert-service.js';
import { convertPolicy } from './state/convert-policy.js';

export interface XdsSourceOptions {
  address: string;
  store: StateStore;
  logger: Logger;
  nodeIp: string;
  podName: string;
  podNamespace: string;
  nodeName: string;
  clusterId: string;
  /** Called once both types have had their first response applied. */
  onSynced: () => void;
  onConnectionChange?: (connected: boolean) => void;
  /** TLS to istiod's mTLS port (15012); default plaintext (15010). */
  credentials?: grpc.ChannelCredentials;
}

function addressErrors(a: Address): string[] {
  if (a.workload) {
    const r = convertWorkload(a.workload);
    return r.ok ? [] : r.errors;
  }
  if (a.service) {
    const r = convertService(a.service);
    return r.ok ? [] : r.errors;
  }
  return ['address: neither workload nor service is set'];
}

/**
 * ztunnel's state from istiod: a delta xDS client for istio.workload.Address and
 * istio.security.Authorization feeding the state store. An invalid resource is NACKed with its field
 * path while the rest of the same response applies. When istiod goes away the store keeps its last
 * state and the client reconnects (10 ms → 15 s), sending the versions it has.
 */
export function startXdsSource(o: XdsSourceOptions): DeltaClient {
  const seen = new Set<string>();
  const first = (typeUrl: string): void => {
    if (seen.has(typeUrl)) return;
    seen.add(typeUrl);
    if (seen.size === 2) o.onSynced();
  };
  const addresses: TypeWatch<Address> = {
    typeUrl: ADDRESS_TYPE_URL,
    partial: true,
    validate: (a) => addressErrors(a),
    onUpdate(upserts: ResourceUpdate<Address>[], removals: string[]) {
      const result = o.store.applyAddresses(new Map(upserts.map((u) => [u.name, u.value])), removals);
      for (const e of result.errors)
        o.logger.warn({ resource: e.name, errors: e.errors }, 'xds: address rejected');
      first(ADDRESS_TYPE_URL);
    },
  };
  const authorizations: TypeWatch<Authorization> = {
    typeUrl: AUTHORIZATION_TYPE_URL,
    partial: true,
    validate: (a) => {
      const r = convertPolicy(a);
      return r.ok ? [] : r.errors;
    },
    onUpdate(upserts: ResourceUpdate<Authorization>[], removals: string[]) {
      const result = o.store.applyAuthorizations(new Map(upserts.map((u) => [u.name, u.value])), removals);
      for (const e of result.errors)
        o.logger.warn({ resource: e.name, errors: e.errors }, 'xds: policy rejected');
      first(AUTHORIZATION_TYPE_URL);
    },
  };
  const client = new DeltaClient({
    address: o.address,
    ...(o.credentials
      ? {
          credentials: o.credentials,
          channelOptions: {
            'grpc.ssl_target_name_override': 'istiod.istio-system.svc',
            'grpc.default_authority': 'istiod.istio-system.svc',
          },
        }
      : {}),
    node: {
      id: formatNodeId('ztunnel', o.nodeIp, o.podName, o.podNamespace),
      cluster: o.clusterId,
      metadata: { fields: { NODE_NAME: { stringValue: o.nodeName } } },
    },
    watches: [addresses as TypeWatch<unknown>, authorizations as TypeWatch<unknown>],
    logger: o.logger,
    onConnectionChange: o.onConnectionChange,
    onResponse: (ev) => {
      // An empty first response still counts as synced for its type.
      if (ev.accepted || ev.upserted.length > 0) first(ev.typeUrl);
    },
  });
  client.start();
  return client;
}
