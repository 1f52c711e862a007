/** The JSON shown by the monitoring port's debug endpoints. */
import type { Istiod } from '../app.js';
import { KINDS } from '../config/kinds.js';
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL } from '../../xds/type-urls.js';
import type { MonitoringViews } from './monitoring-server.js';

export function debugViews(app: Istiod): MonitoringViews {
  return {
    notReadyReason: () => app.notReadyReason(),
    adsz: () => {
      const clients = app.xds.connections().map((c) => ({
        connectionId: c.id,
        proxy: `${c.node.podName}.${c.node.namespace}`,
        type: c.node.type,
        ip: c.node.ip,
        bytesSent: c.bytesSent,
        responsesSent: c.responsesSent,
        acks: c.acks,
        nacks: c.nacks,
        queued: c.queueDepth,
      }));
      return {
        totalClients: clients.length,
        waitingForSync: app.waitingStreams,
        resources: {
          [ADDRESS_TYPE_URL]: app.xds.store(ADDRESS_TYPE_URL)?.size ?? 0,
          [AUTHORIZATION_TYPE_URL]: app.xds.store(AUTHORIZATION_TYPE_URL)?.size ?? 0,
        },
        clients,
      };
    },
    syncz: () =>
      app.xds.connections().map((c) => ({
        proxy: `${c.node.podName}.${c.node.namespace}`,
        connectionId: c.id,
        synced: c.queueDepth === 0 && !c.writePending,
        queued: c.queueDepth,
        acks: c.acks,
        nacks: c.nacks,
      })),
    configz: () => {
      const objects: Record<string, number> = {};
      for (const k of KINDS) {
        const n = app.store.list(k.id).length;
        if (n > 0) objects[k.id] = n;
      }
      return {
        source: app.source.name,
        synced: app.source.synced,
        ready: app.ready,
        objects,
        issues: app.issues().map((i) => i.text),
        policyWarnings: app.index.warnings(),
      };
    },
  };
}
