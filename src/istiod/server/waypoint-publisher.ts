/**
 * Publishes each L7 proxy's configuration as a `meshlite.l7.ProxyConfig` resource: a waypoint's named
 * `<namespace>/<waypoint>`, a sidecar's `<ns>/~sidecar-outbound` and `<ns>/<pod>~inbound`, an ingress gateway's
 * `<ns>/<gateway>-istio`: recomputed from the configuration store once per batch of changes (the
 * events of one tick), handed to the xDS server, which sends a waypoint only its own resource and only
 * when its content changed.
 */
import { kindIdOf } from '../config/kinds.js';
import { errorMessage } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { PROXY_CONFIG_SCHEMA, PROXY_CONFIG_TYPE_URL, SECRET_TYPE_URL } from '../../xds/type-urls.js';
import { credentialResources } from './credentials.js';
import type { ConfigStore } from '../config/store.js';
import { buildWaypointConfigs } from '../l7/waypoint-configs.js';
import { buildSidecarConfigs } from '../l7/sidecar-configs.js';
import { buildClassicGatewayConfigs } from '../l7/classic-gateway-configs.js';
import { buildGatewayConfigs } from '../l7/gateway-configs.js';
import type { MeshViewOptions } from '../l7/mesh-view.js';
import type { DeltaXdsServer } from '../xds/delta-server.js';

/** Kinds whose changes can change a waypoint's configuration. */
const KINDS = new Set([
  'Namespace',
  'Pod',
  'Service',
  'Gateway',
  'IstioGateway',
  'Deployment',
  'HTTPRoute',
  'VirtualService',
  'DestinationRule',
  'GRPCRoute',
  'AuthorizationPolicy',
  'RequestAuthentication',
  'Secret',
  'ReferenceGrant',
  'TLSRoute',
]);

export class WaypointPublisher {
  private published = new Set<string>();
  private credentials = new Set<string>();
  private scheduled = false;
  private live = false;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly store: ConfigStore,
    private readonly xds: DeltaXdsServer,
    private readonly opts: MeshViewOptions,
    private readonly log: Logger,
  ) {
    this.unsubscribe = store.onChange((e) => {
      if (!this.live || !KINDS.has(kindIdOf(e.object) ?? '') || this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.publish();
      });
    });
  }

  /** Computes and hands over every waypoint's configuration; from then on follows changes. */
  publish(): void {
    this.live = true;
    try {
      const configs = new Map([
        ...buildWaypointConfigs(this.store, this.opts),
        ...buildSidecarConfigs(this.store, this.opts),
        ...buildClassicGatewayConfigs(this.store, this.opts),
        ...buildGatewayConfigs(this.store, this.opts),
      ]);
      const upserts = [...configs].map(([name, cfg]) => ({
        name,
        message: { proxy: name, configJson: JSON.stringify(cfg), schema: PROXY_CONFIG_SCHEMA },
      }));
      const removals = [...this.published].filter((n) => !configs.has(n));
      this.published = new Set(configs.keys());
      // Credentials first: a gateway's new certificate is there by the time its config names it.
      const creds = credentialResources(configs.values(), this.store);
      this.xds.apply(SECRET_TYPE_URL, {
        upserts: [...creds].map(([name, message]) => ({ name, message })),
        removals: [...this.credentials].filter((n) => !creds.has(n)),
      });
      this.credentials = new Set(creds.keys());
      this.xds.reauthorize(SECRET_TYPE_URL);
      this.xds.apply(PROXY_CONFIG_TYPE_URL, { upserts, removals });
    } catch (err) {
      this.log.error(
        { err: errorMessage(err) },
        'waypoint configuration could not be computed; the last one keeps serving',
      );
    }
  }

  get count(): number {
    return this.published.size;
  }

  stop(): void {
    this.live = false;
    this.unsubscribe();
  }
}
