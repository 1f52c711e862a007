/**
 * The CA client options every node proxy (ztunnel, waypoint) takes, defined once.
 */
import { parsers } from './config.js';

export const CA_CLIENT_OPTIONS = {
  caAddress: {
    flag: 'ca-address',
    env: 'CA_ADDRESS',
    doc: 'istiod CA address (default: the xDS address)',
    default: '',
    parse: parsers.string,
  },
  tokenFile: {
    flag: 'token-file',
    env: 'TOKEN_FILE',
    doc: 'bearer token presented to the CA',
    default: '',
    parse: parsers.string,
  },
};
