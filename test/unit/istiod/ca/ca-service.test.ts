import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { CaService } from '../../../../src/istiod/ca/ca-service.js';
import { IstiodCa } from '../../../../src/istiod/ca/istiod-ca.js';
import { NodeIdentities } from '../../../../src/istiod/ca/node-identity-lookup.js';
import type { AuthnResult, TokenAuthenticator } from '../../../../src/istiod/ca/token-authenticator.js';
import { unauthenticated } from '../../../../src/istiod/ca/ca-denial.js';
import { createRootCa, issueWorkloadCertificate } from '../../../../src/pki/ca.js';
import type { IstioCertificateRequest } from '../../../../src/xds/discovery-types.js';
import { ecCsr, sid } from './fixtures.js';

/** Tokens → callers, from a table (the interface's simplest implementation). */
class TableTokens implements TokenAuthenticator {
  readonly name = 'table';
  constructor(private readonly table: Record<string, AuthnResult>) {}
  authenticate(token: string): Promise<AuthnResult> {
    return Promise.resolve(
      this.table[token] ?? unauthenticated('unknown_token', 'the bearer token is not known'),
    );
  }
}

const ca = IstiodCa.fromAuthority(createRootCa());
const nodes = new NodeIdentities();
nodes.set('web-1', 'node1', sid('app', 'web'));
nodes.set('db-1', 'node2', sid('app', 'db'));
const lines: Array<Record<string, unknown>> = [];
const sink = new Writable({
  write(chunk: Buffer, _e, cb) {
    for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
    cb();
  },
});
const service = new CaService({
  ca,
  nodes,
  authenticators: [
    new TableTokens({
      zt1: {
        ok: true,
        caller: { identity: sid('istio-system', 'ztunnel'), node: 'node1', via: 'local-token' },
      },
      web: { ok: true, caller: { identity: sid('app', 'web'), via: 'token-review' } },
      old: unauthenticated('expired_token', 'the token expired'),
    }),
  ],
  logger: pino({ level: 'debug' }, sink),
});

const WEB = 'spiffe://cluster.local/ns/app/sa/web';
const DB = 'spiffe://cluster.local/ns/app/sa/db';

function md(token?: string): grpc.Metadata {
  const m = new grpc.Metadata();
  if (token) m.set('authorization', `Bearer ${token}`);
  return m;
}

function imp(uri: string): IstioCertificateRequest['metadata'] {
  return { fields: { ImpersonatedIdentity: { stringValue: uri } } };
}

async function count(name: string, reason?: string): Promise<number> {
  const m = await service.registry.getSingleMetric(name)?.get();
  const v = m?.values.find((x) => reason === undefined || x.labels.reason === reason);
  return v?.value ?? 0;
}

test('a workload gets its own identity; the chain is leaf first, root last; default lifetime 24 h', async () => {
  const before = await count('citadel_server_success_cert_issuance_count');
  const r = await service.createCertificate({ csr: ecCsr([WEB]) }, { metadata: md('web') });
  assert.ok(r.ok);
  assert.equal(r.certChain.length, 2);
  assert.equal(r.certChain[1], ca.authority.rootPem);
  const leaf = new X509Certificate(r.certChain[0] as string);
  assert.equal(Date.parse(leaf.validTo) - Date.parse(leaf.validFrom), 24 * 3600e3);
  assert.equal(await count('citadel_server_success_cert_issuance_count'), before + 1);
});

test('ztunnel impersonates a workload on its node and asks for a short lifetime', async () => {
  const r = await service.createCertificate(
    { csr: ecCsr([WEB]), validityDuration: 60, metadata: imp(WEB) },
    { metadata: md('zt1') },
  );
  assert.ok(r.ok);
  const leaf = new X509Certificate(r.certChain[0] as string);
  assert.equal(Date.parse(leaf.validTo) - Date.parse(leaf.validFrom), 60e3);
  // The gRPC header form is accepted too.
  const m = md('zt1');
  m.set('impersonatedidentity', WEB);
  assert.ok((await service.createCertificate({ csr: ecCsr([WEB]) }, { metadata: m })).ok);
});

test('every refusal has its status and message, is counted by reason and logged, and signs nothing', async () => {
  const cases: Array<[string, IstioCertificateRequest, grpc.Metadata, grpc.status, string, RegExp]> = [
    ['no token', { csr: ecCsr([WEB]) }, md(), grpc.status.UNAUTHENTICATED, 'no_token', /no credential/],
    [
      'unknown token',
      { csr: ecCsr([WEB]) },
      md('nope'),
      grpc.status.UNAUTHENTICATED,
      'unknown_token',
      /not known/,
    ],
    [
      'expired token',
      { csr: ecCsr([WEB]) },
      md('old'),
      grpc.status.UNAUTHENTICATED,
      'expired_token',
      /expired/,
    ],
    [
      'pod on another node',
      { csr: ecCsr([DB]), metadata: imp(DB) },
      md('zt1'),
      grpc.status.PERMISSION_DENIED,
      'not_on_node',
      /runs on node "node1"/,
    ],
    [
      'workload impersonating',
      { csr: ecCsr([DB]), metadata: imp(DB) },
      md('web'),
      grpc.status.PERMISSION_DENIED,
      'impersonation_not_allowed',
      /only get a certificate for itself/,
    ],
    [
      'SAN differs',
      { csr: ecCsr([DB]) },
      md('web'),
      grpc.status.INVALID_ARGUMENT,
      'san_mismatch',
      /differs from the identity asked for/,
    ],
    [
      'malformed CSR',
      { csr: 'garbage' },
      md('web'),
      grpc.status.INVALID_ARGUMENT,
      'malformed_csr',
      /cannot be parsed/,
    ],
    [
      'over the cap',
      { csr: ecCsr([WEB]), validityDuration: 91 * 86400 },
      md('web'),
      grpc.status.INVALID_ARGUMENT,
      'validity_too_long',
      /over the maximum/,
    ],
    [
      'other trust domain',
      { csr: ecCsr(['spiffe://evil.org/ns/app/sa/web']) },
      md('web'),
      grpc.status.INVALID_ARGUMENT,
      'trust_domain',
      /only for "cluster.local"/,
    ],
  ];
  for (const [what, req, meta, code, reason, message] of cases) {
    const issued = await count('citadel_server_success_cert_issuance_count');
    const refusedBefore = await count('citadel_server_csr_sign_err_count', reason);
    const logsBefore = lines.length;
    const r = await service.createCertificate(req, { metadata: meta });
    assert.ok(!r.ok, what);
    assert.equal(r.code, code, what);
    assert.equal(r.reason, reason, what);
    assert.match(r.message, message, what);
    assert.equal(await count('citadel_server_csr_sign_err_count', reason), refusedBefore + 1, what);
    assert.equal(
      await count('citadel_server_success_cert_issuance_count'),
      issued,
      `${what}: nothing signed`,
    );
    const log = lines.slice(logsBefore).find((l) => l.reason === reason);
    assert.ok(log, `${what}: logged`);
    assert.equal(log.level, 40);
  }
  assert.ok((await count('citadel_server_authentication_failure_count', 'unknown_token')) >= 1);
  assert.ok((await count('citadel_server_csr_parsing_err_count', 'malformed_csr')) >= 1);
  const text = await service.registry.metrics();
  assert.match(text, /citadel_server_root_cert_expiry_timestamp \d+/);
});

test('a caller identified by its mesh certificate gets its own identity, never another', async () => {
  const w = issueWorkloadCertificate(ca.authority, sid('app', 'web'));
  const peer = new X509Certificate(w.certPem);
  const peerCertificate = {
    subjectaltname: peer.subjectAltName,
  } as unknown as PeerCertificate;
  const r = await service.createCertificate({ csr: ecCsr([WEB]) }, { metadata: md(), peerCertificate });
  assert.ok(r.ok);
  assert.equal(r.caller.via, 'certificate');
  const other = await service.createCertificate(
    { csr: ecCsr([DB]), metadata: imp(DB) },
    { metadata: md(), peerCertificate },
  );
  assert.ok(!other.ok);
  assert.equal(other.reason, 'impersonation_not_allowed');
});
