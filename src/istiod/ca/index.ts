/** istiod's CA: the authority, the gRPC service, caller authentication and the node ↔ identity lookup. */
export {
  IstiodCa,
  ROOT_CONFIGMAP_NAME,
  ROOT_CONFIGMAP_KEY,
  type IstiodCaOptions,
  type CaMode,
} from './istiod-ca.js';
export {
  CaService,
  MAX_VALIDITY_MS,
  IMPERSONATED_IDENTITY,
  type CaServiceOptions,
  type CaCallContext,
  type SignResult,
} from './ca-service.js';
export { CaServingCertificate, type ServingCertOptions } from './serving-credentials.js';
export type { TokenAuthenticator, Caller, AuthnResult } from './token-authenticator.js';
export {
  LocalTokenAuthenticator,
  addNodeToken,
  createNodeToken,
  writeTokenFile,
  writeSecretFile,
  type NodeTokenRecord,
} from './local-tokens.js';
// The Kubernetes parts (kube-token-review.ts, root-configmap.ts) load @kubernetes/client-node: import
// them directly, and only in Kubernetes mode (see ca-setup.ts).
export {
  NodeIdentities,
  AmbientNodeIdentities,
  type NodeIdentityLookup,
  type AddressSource,
} from './node-identity-lookup.js';
export { authorizeIdentity, type AuthorizeContext } from './authorize.js';
export { checkCsr, checkValidity, MIN_RSA_BITS, type LifetimePolicy } from './csr-check.js';
export type { CaRefusal, CaRefusalReason } from './ca-denial.js';
export { CA_FILES, loadCaDir } from './ca-storage.js';
