import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pickCertificate, secureAddressOf, loadCredential } from '../../../src/gateway/credentials.js';
import { credentialAccess, parseCredentialName } from '../../../src/istiod/server/credentials.js';
import { ReferenceGrants } from '../../../src/istiod/l7/reference-grants.js';

const certs = [
  { hostnames: ['shop.example.com'], id: 'shop' },
  { hostnames: ['*.example.com'], id: 'wild' },
  { hostnames: [], id: 'default' },
];

test('the certificate for an SNI: an exact or one-label wildcard match, else the one without hostnames', () => {
  assert.equal(pickCertificate(certs, 'shop.example.com')?.id, 'shop');
  assert.equal(pickCertificate(certs, 'SHOP.Example.com')?.id, 'shop');
  assert.equal(pickCertificate(certs, 'cart.example.com')?.id, 'wild');
  assert.equal(pickCertificate(certs, 'a.b.example.com')?.id, 'default', 'a wildcard covers one label');
  assert.equal(pickCertificate(certs, 'example.org')?.id, 'default');
  assert.equal(pickCertificate(certs, undefined)?.id, 'default');
  assert.equal(
    pickCertificate(certs.slice(0, 2), 'example.org')?.id,
    'shop',
    'none without hostnames: the first',
  );
  assert.equal(pickCertificate([], 'x'), undefined);
});

test("istiod's mTLS address sits beside the xDS address on 15012", () => {
  assert.equal(secureAddressOf('istiod.istio-system.svc:15010'), 'istiod.istio-system.svc:15012');
  assert.equal(secureAddressOf('10.244.255.1:15010'), '10.244.255.1:15012');
});

test('a credential goes only to a mesh identity of its namespace, over mTLS', () => {
  const may = credentialAccess('cluster.local', () => new ReferenceGrants([]));
  const id = (namespace: string, trustDomain = 'cluster.local') => ({
    trustDomain,
    namespace,
    serviceAccount: 'gw',
  });
  assert.equal(may('kubernetes://edge/cert', id('edge')), undefined);
  assert.match(
    may('kubernetes://edge/cert', id('other')) ?? '',
    /for proxies of namespace edge \(or of a namespace a ReferenceGrant there names\); the client is of other/,
  );
  const granted = credentialAccess(
    'cluster.local',
    () =>
      new ReferenceGrants([
        {
          apiVersion: 'gateway.networking.k8s.io/v1beta1',
          kind: 'ReferenceGrant',
          metadata: { name: 'g', namespace: 'edge' },
          spec: {
            from: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'other' }],
            to: [{ group: '', kind: 'Secret', name: 'cert' }],
          },
        },
      ]),
  );
  assert.equal(granted('kubernetes://edge/cert', id('other')), undefined, 'a ReferenceGrant lets other');
  assert.match(
    granted('kubernetes://edge/key', id('other')) ?? '',
    /the client is of other/,
    'only that Secret',
  );
  assert.match(may('kubernetes://edge/cert', undefined) ?? '', /only on istiod's mTLS port/);
  assert.match(may('kubernetes://edge/cert', id('edge', 'other.td')) ?? '', /trust domain other\.td/);
  assert.match(may('file:///etc/key', id('edge')) ?? '', /not a credential name/);
  assert.deepEqual(parseCredentialName('kubernetes://a/b'), { namespace: 'a', name: 'b' });
  for (const bad of ['kubernetes://b', 'kubernetes:///b', 'kubernetes://a/', 'kubernetes://a/b/c'])
    assert.equal(parseCredentialName(bad), undefined, bad);
});

test('an SDS secret without a chain or key, or with a broken one, is refused with the field named', () => {
  assert.match(loadCredential({ tlsCertificate: {} }).error ?? '', /certificate_chain: missing/);
  assert.match(
    loadCredential({ tlsCertificate: { certificateChain: { inlineString: 'x' } } }).error ?? '',
    /private_key: missing/,
  );
  assert.match(
    loadCredential({
      tlsCertificate: { certificateChain: { inlineString: 'x' }, privateKey: { inlineString: 'y' } },
    }).error ?? '',
    /does not load/,
  );
});
