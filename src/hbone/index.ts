/** HBONE: TCP byte streams carried in HTTP/2 CONNECT over mutual TLS 1.3, with SPIFFE identities. */
export { HBONE_PORT, HBONE_DEFAULTS } from './settings.js';
export { Credentials, CertSlot, type CertSource } from './credentials.js';
export { HboneServer, type HboneServerOptions } from './server.js';
export { HboneRequest, type RejectStatus } from './request.js';
export { HbonePool, type TunnelRequest, type PoolOptions } from './pool.js';
export { HboneConnection, type HboneStream } from './connection.js';
export { hboneImpl, type HboneImpl } from './settings.js';
export { HboneError } from './errors.js';
export { parseAuthority, formatAuthority, type Target } from './authority.js';
export { forwardedFor, parseForwardedFor, newTraceparent, baggage } from './headers.js';
export { relayToTcp, relayFromStream, type RelayOutcome } from './relay.js';
