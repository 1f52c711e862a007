/** Workload identity for node proxies: the certificate manager, the CA client and the trust bundle. */
export {
  CertificateManager,
  type CertificateManagerOptions,
  type IdentityStatus,
  type IdentityState,
} from './certificate-manager.js';
export {
  IdentityCaClient,
  caChannelCredentials,
  fetchStatus,
  type CertificateFetcher,
  type IssuedCertificate,
  type IdentityCaClientOptions,
} from './ca-client.js';
export { TrustBundle } from './trust-bundle.js';
export { FetchQueue, type QueuedTask } from './fetch-queue.js';
export { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';
