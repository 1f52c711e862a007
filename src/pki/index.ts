/** The PKI helpers: SPIFFE ids, keys, CAs and leaf issuance, CSRs, chain verification, PEM. */
export * from './spiffe.js';
export * from './keys.js';
export * from './ca.js';
export * from './csr.js';
export * from './verify.js';
export { toPem, pemBlocks, splitPemCerts, joinPem, type PemBlock } from './pem.js';
