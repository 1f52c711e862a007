import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkCsr, checkValidity } from '../../../../src/istiod/ca/csr-check.js';
import type { CaRefusal } from '../../../../src/istiod/ca/ca-denial.js';
import { status } from '@grpc/grpc-js';
import { TD, ecCsr, forgedCsr, rsaCsr, sid } from './fixtures.js';

const app = sid('app', 'web');
const APP = 'spiffe://cluster.local/ns/app/sa/web';

function refused(r: ReturnType<typeof checkCsr> | ReturnType<typeof checkValidity>): CaRefusal {
  assert.equal(r.ok, false, 'expected a refusal');
  return r as CaRefusal;
}

test('a P-256 CSR for exactly the asked identity passes and yields its key', () => {
  const r = checkCsr(ecCsr([APP]), app, TD);
  assert.ok(r.ok);
  assert.equal(r.publicKey.asymmetricKeyType, 'ec');
  assert.deepEqual(r.id, app);
});

test('each bad CSR is INVALID_ARGUMENT with a reason and a message naming the problem', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['not a csr', 'malformed_csr', /cannot be parsed/],
    ['', 'malformed_csr', /no CSR/],
    [forgedCsr([APP]), 'csr_signature', /signature does not verify/],
    [ecCsr([]), 'no_san', /no subject alternative name/],
    [ecCsr([APP, 'spiffe://cluster.local/ns/app/sa/other']), 'multiple_sans', /2 subject alternative names/],
    [ecCsr([APP], ['web.app.svc']), 'multiple_sans', /exactly one SPIFFE URI/],
    [
      ecCsr(['https://example.com/web']),
      'non_spiffe_san',
      /URI "https:\/\/example.com\/web", not a SPIFFE id/,
    ],
    [ecCsr([], ['web.app.svc']), 'non_spiffe_san', /DNS name "web.app.svc"/],
    [
      ecCsr(['spiffe://other.domain/ns/app/sa/web']),
      'trust_domain',
      /"other.domain"; this CA signs only for "cluster.local"/,
    ],
    [
      ecCsr(['spiffe://cluster.local/ns/app/sa/admin']),
      'san_mismatch',
      /ns\/app\/sa\/admin differs from the identity asked for, spiffe:\/\/cluster.local\/ns\/app\/sa\/web/,
    ],
    [rsaCsr(1024, [APP]), 'weak_key', /1024 bits; at least 2048/],
  ];
  for (const [csr, reason, message] of cases) {
    const r = refused(checkCsr(csr, app, TD));
    assert.equal(r.code, status.INVALID_ARGUMENT, reason);
    assert.equal(r.reason, reason);
    assert.match(r.message, message);
  }
});

test('RSA keys of 2048 bits are accepted', () => {
  assert.ok(checkCsr(rsaCsr(2048, [APP]), app, TD).ok);
});

test('lifetimes: 0 means the default, over the cap or negative is refused', () => {
  const policy = { defaultMs: 24 * 3600e3, maxMs: 90 * 24 * 3600e3 };
  assert.deepEqual(checkValidity(0, policy), { ok: true, ms: 24 * 3600e3 });
  assert.deepEqual(checkValidity(undefined, policy), { ok: true, ms: 24 * 3600e3 });
  assert.deepEqual(checkValidity(3600, policy), { ok: true, ms: 3600e3 });
  assert.deepEqual(checkValidity(90 * 24 * 3600, policy), { ok: true, ms: 90 * 24 * 3600e3 });
  const over = refused(checkValidity(90 * 24 * 3600 + 1, policy));
  assert.equal(over.reason, 'validity_too_long');
  assert.equal(over.code, status.INVALID_ARGUMENT);
  assert.match(over.message, /over the maximum of 7776000 s/);
  assert.equal(refused(checkValidity(-5, policy)).reason, 'bad_validity');
});
