import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT, exportJWK, generateKeyPair, generateSecret, type JWK } from 'jose';
import { silentLogger } from '../../../../src/common/logger.js';
import { JwksCache } from '../../../../src/l7/security/jwks-cache.js';
import { compileJwt, verifyRequest, type CompiledJwt } from '../../../../src/l7/security/jwt-verify.js';
import type { JwtRule } from '../../../../src/l7/security/model.js';

const ISS = 'https://issuer.test';
let rsa: CryptoKey;
let other: CryptoKey;
let ed: CryptoKey;
let hs: Uint8Array | CryptoKey;
let jwks: { keys: JWK[] };
const cache = new JwksCache({ log: silentLogger() });
let real0 = '';

before(async () => {
  const a = await generateKeyPair('RS256');
  const b = await generateKeyPair('ES256');
  const e = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  hs = await generateSecret('HS256', { extractable: true });
  rsa = a.privateKey;
  other = (await generateKeyPair('RS256')).privateKey;
  ed = e.privateKey;
  jwks = {
    keys: [
      { ...(await exportJWK(a.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
      { ...(await exportJWK(b.publicKey)), kid: 'ec-1', alg: 'ES256' },
      { ...(await exportJWK(e.publicKey)), kid: 'ed-1' },
      { ...(await exportJWK(hs)), kid: 'hs-1', alg: 'HS256' },
    ],
  };
  real0 = await token();
});

function rule(over: Partial<JwtRule> = {}): JwtRule {
  return { source: 'RequestAuthentication bookinfo/jwt', issuer: ISS, jwks: JSON.stringify(jwks), ...over };
}

async function token(
  claims: Record<string, unknown> = {},
  opts: { key?: CryptoKey | Uint8Array; alg?: string; kid?: string; exp?: string | number } = {},
): Promise<string> {
  const s = new SignJWT({ sub: 'alice', aud: 'bookinfo', ...claims })
    .setProtectedHeader({ alg: opts.alg ?? 'RS256', kid: opts.kid ?? 'rsa-1' })
    .setIssuer((claims.iss as string) ?? ISS)
    .setIssuedAt()
    .setExpirationTime(opts.exp ?? '1h');
  return s.sign(opts.key ?? rsa);
}

function run(jwt: CompiledJwt, headers: Record<string, string>, query = '') {
  return verifyRequest(jwt, (n) => headers[n], query, cache);
}

test('no token passes with no principal; a good token gives iss/sub, audiences and claims', async () => {
  const jwt = compileJwt([rule()])!;
  assert.deepEqual(await run(jwt, {}), { kind: 'none' });
  const ok = await run(jwt, { authorization: `Bearer ${await token({ groups: ['dev'], azp: 'web' })}` });
  assert.equal(ok.kind, 'ok');
  if (ok.kind !== 'ok') return;
  assert.equal(ok.auth.principal, `${ISS}/alice`);
  assert.deepEqual(ok.auth.audiences, ['bookinfo']);
  assert.equal(ok.auth.presenter, 'web');
  assert.deepEqual(ok.auth.claims.groups, ['dev']);
  assert.equal(ok.found.header?.name, 'authorization');
});

test('bad tokens get 401 with Envoy wording; a wrong audience gets 403', async () => {
  const jwt = compileJwt([rule({ audiences: ['bookinfo', 'other'] })])!;
  const bad = async (t: string, status: number, message: string): Promise<void> => {
    const out = await run(jwt, { authorization: `Bearer ${t}` });
    assert.deepEqual(out, { kind: 'denied', status, message }, t.slice(0, 40));
  };
  const good = await token();
  await bad(await token({}, { key: other }), 401, 'Jwt verification fails');
  await bad(await token({}, { exp: Math.floor(Date.now() / 1000) - 3600 }), 401, 'Jwt is expired');
  await bad(await token({ iss: 'https://evil.test' }), 401, 'Jwt issuer is not configured');
  await bad(await token({}, { kid: 'nope' }), 401, "Jwks doesn't have key to match kid or alg from Jwt");
  await bad(await token({ aud: 'someone-else' }), 403, 'Audiences in Jwt are not allowed');
  await bad(
    good.slice(0, good.lastIndexOf('.')),
    401,
    'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections',
  );
  await bad(
    'not-a-jwt',
    401,
    'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections',
  );
  // alg none, with a valid-looking payload.
  const [, payload] = good.split('.');
  const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${payload}.`;
  await bad(none, 401, 'Jwt algorithm is not supported');
  // A signature flipped in its last byte.
  await bad(good.slice(0, -2) + (good.endsWith('A') ? 'BB' : 'AA'), 401, 'Jwt verification fails');
  // A huge token is refused before parsing.
  await bad('a'.repeat(20_000) + '.b.c', 401, 'Jwt verification fails');
});

test('EdDSA, ES256 and HS256 keys from the same set verify', async () => {
  const jwt = compileJwt([rule()])!;
  const edTok = await token({}, { key: ed, alg: 'EdDSA', kid: 'ed-1' });
  assert.equal((await run(jwt, { authorization: `Bearer ${edTok}` })).kind, 'ok');
  const hsTok = await token({}, { key: hs, alg: 'HS256', kid: 'hs-1' });
  assert.equal((await run(jwt, { authorization: `Bearer ${hsTok}` })).kind, 'ok');
});

test('fromHeaders with a prefix and fromParams replace the default locations', async () => {
  const jwt = compileJwt([
    rule({ fromHeaders: [{ name: 'x-jwt', prefix: 'Token ' }], fromParams: ['jwt'] }),
  ])!;
  const t = await token();
  assert.equal((await run(jwt, { 'x-jwt': `Token ${t}` })).kind, 'ok');
  assert.equal((await run(jwt, {}, `a=1&jwt=${t}`)).kind, 'ok');
  assert.deepEqual(
    await run(jwt, { authorization: `Bearer ${t}` }),
    { kind: 'none' },
    'default location not used',
  );
  // Default locations: Authorization Bearer and ?access_token=.
  const def = compileJwt([rule()])!;
  assert.equal((await run(def, {}, `access_token=${t}`)).kind, 'ok');
});

test('an unusable inline JWKS or an unreachable jwksUri fails closed', async () => {
  const broken = compileJwt([rule({ jwks: '{"keys": 3}' })])!;
  assert.equal(broken.rules[0]!.inlineError !== undefined, true);
  assert.equal((await run(broken, { authorization: `Bearer ${await token()}` })).kind, 'denied');
  const local = new JwksCache({ log: silentLogger(), retryMs: 60_000 });
  local.retain(new Map([['http://127.0.0.1:1/jwks', 500]]));
  const remote = compileJwt([rule({ jwks: undefined, jwksUri: 'http://127.0.0.1:1/jwks' })])!;
  const out = await verifyRequest(remote, (n) => ({ authorization: `Bearer tok` })[n], '', local);
  assert.equal(out.kind, 'denied');
  const real = await verifyRequest(
    remote,
    (n) => (n === 'authorization' ? `Bearer ${real0}` : undefined),
    '',
    local,
  );
  assert.deepEqual(real, { kind: 'denied', status: 401, message: 'Jwks remote fetch is failed' });
  assert.equal(local.status()[0]!.ok, false);
  local.close();
});

test('a verified token is cached (Envoy jwt cache): the same token again skips the check; the cache is bounded', async () => {
  const jwt = compileJwt([rule()])!;
  const t = await token();
  const a = await run(jwt, { authorization: `Bearer ${t}` });
  const b = await run(jwt, { authorization: `Bearer ${t}` });
  assert.equal(a.kind, 'ok');
  assert.equal(a, b, 'the second answer is the cached one');
  for (let i = 0; i < 120; i++) await run(jwt, { authorization: `Bearer ${await token({ n: i })}` });
  assert.equal(jwt.verified.size, 100);
});
