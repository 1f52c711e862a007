/**
 * The ingress gateway's options: the waypoint's, and istiod's mTLS address for its certificates.
 */
import { parsers, type ConfigOf } from '../common/config.js';
import { waypointSchema } from '../waypoint/config.js';

export const gatewaySchema = {
  ...waypointSchema,
  secureXdsAddress: {
    flag: 'secure-xds-address',
    env: 'SECURE_XDS_ADDRESS',
    doc: "istiod's mTLS xDS address, where HTTPS listeners' certificates come from (default: the host of --xds-address, port 15012)",
    default: '',
    parse: parsers.string,
  },
};

export type GatewayConfig = ConfigOf<typeof gatewaySchema>;
