import { Counter, Gauge, type Registry } from 'prom-client';
import type { CaRefusalReason } from './ca-denial.js';
import type { IstiodCa } from './istiod-ca.js';

const AUTHN: ReadonlySet<CaRefusalReason> = new Set([
  'no_token',
  'unknown_token',
  'expired_token',
  'token_review_failed',
  'bad_caller_identity',
]);
const PARSING: ReadonlySet<CaRefusalReason> = new Set(['malformed_csr', 'csr_signature']);

/**
 * The CA's metrics, with Istio's names: every request, every certificate issued, and every refusal by
 * reason (`citadel_server_csr_sign_err_count{reason}`); authentication and CSR parsing failures are
 * also counted under Istio's dedicated names. Root and signing-certificate expiry as timestamps.
 */
export class CaMetrics {
  private readonly csr: Counter;
  private readonly success: Counter;
  private readonly refused: Counter<'reason'>;
  private readonly authn: Counter<'reason'>;
  private readonly parsing: Counter<'reason'>;

  constructor(registry: Registry, ca: IstiodCa) {
    const registers = [registry];
    this.csr = new Counter({
      name: 'citadel_server_csr_count',
      help: 'Certificate signing requests received',
      registers,
    });
    this.success = new Counter({
      name: 'citadel_server_success_cert_issuance_count',
      help: 'Certificates issued',
      registers,
    });
    this.refused = new Counter({
      name: 'citadel_server_csr_sign_err_count',
      help: 'Certificate requests refused (nothing signed), by reason',
      labelNames: ['reason'],
      registers,
    });
    this.authn = new Counter({
      name: 'citadel_server_authentication_failure_count',
      help: 'Certificate requests whose caller could not be authenticated, by reason',
      labelNames: ['reason'],
      registers,
    });
    this.parsing = new Counter({
      name: 'citadel_server_csr_parsing_err_count',
      help: 'Certificate requests with a CSR that cannot be parsed or verified, by reason',
      labelNames: ['reason'],
      registers,
    });
    new Gauge({
      name: 'citadel_server_root_cert_expiry_timestamp',
      help: 'Unix time (seconds) at which the CA root expires',
      registers,
      collect() {
        this.set(ca.expiry().root.getTime() / 1000);
      },
    });
    new Gauge({
      name: 'citadel_server_cert_chain_expiry_timestamp',
      help: 'Unix time (seconds) at which the signing CA certificate expires',
      registers,
      collect() {
        this.set(ca.expiry().signing.getTime() / 1000);
      },
    });
  }

  received(): void {
    this.csr.inc();
  }

  issued(): void {
    this.success.inc();
  }

  refusedFor(reason: CaRefusalReason): void {
    this.refused.inc({ reason });
    if (AUTHN.has(reason)) this.authn.inc({ reason });
    if (PARSING.has(reason)) this.parsing.inc({ reason });
  }
}
