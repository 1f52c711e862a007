import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, encodeMessage, fromAny, toAny } from '../../../src/xds/codec.js';
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL } from '../../../src/xds/type-urls.js';
import type { Address } from '../../../src/xds/workload-types.js';
import type { Authorization } from '../../../src/xds/security-types.js';

test('a workload survives encode and decode with camelCase fields', () => {
  const addr: Address = {
    workload: {
      uid: 'c1//v1/Pod/ns/p',
      name: 'p',
      namespace: 'ns',
      addresses: [Uint8Array.of(10, 0, 0, 1)],
      tunnelProtocol: 1,
      serviceAccount: 'sa',
      waypoint: { address: { network: '', address: Uint8Array.of(10, 0, 0, 9) }, hboneMtlsPort: 15008 },
      services: {
        'ns/svc.ns.svc.cluster.local': { ports: [{ servicePort: 80, targetPort: 8080, appProtocol: 1 }] },
      },
      authorizationPolicies: ['ns/allow'],
      locality: { region: 'r', zone: 'z' },
      capacity: { value: 3 },
    },
  };
  const back = decodeMessage<Address>(
    'istio.workload.Address',
    encodeMessage('istio.workload.Address', addr),
  );
  const w = back.workload;
  assert.equal(w?.uid, 'c1//v1/Pod/ns/p');
  assert.equal(w?.tunnelProtocol, 1);
  assert.equal(w?.serviceAccount, 'sa');
  assert.deepEqual([...(w?.addresses?.[0] ?? [])], [10, 0, 0, 1]);
  assert.equal(w?.waypoint?.hboneMtlsPort, 15008);
  assert.deepEqual([...(w?.waypoint?.address?.address ?? [])], [10, 0, 0, 9]);
  assert.equal(w?.services?.['ns/svc.ns.svc.cluster.local']?.ports?.[0]?.appProtocol, 1);
  assert.deepEqual(w?.authorizationPolicies, ['ns/allow']);
  assert.equal(w?.capacity?.value, 3);
  assert.equal(back.service, undefined);
});

test('an authorization policy with a presence match round-trips inside an Any', () => {
  const policy: Authorization = {
    name: 'strict',
    namespace: 'ns',
    scope: 1,
    action: 1,
    groups: [{ rules: [{ matches: [{ notPrincipals: [{ presence: {} }], notDestinationPorts: [15021] }] }] }],
  };
  const any = toAny('istio.security.Authorization', policy);
  assert.equal(any.typeUrl, AUTHORIZATION_TYPE_URL);
  const back = fromAny<Authorization>(any, AUTHORIZATION_TYPE_URL);
  const match = back.groups?.[0]?.rules?.[0]?.matches?.[0];
  assert.deepEqual(match?.notPrincipals, [{ presence: {} }]);
  assert.deepEqual(match?.notDestinationPorts, [15021]);
  assert.equal(back.action, 1);
});

test('fromAny refuses a resource of another type, and bad bytes are an XDS_ERR_DECODE', () => {
  const any = toAny('istio.security.Authorization', { name: 'x' });
  assert.throws(() => fromAny(any, ADDRESS_TYPE_URL), { code: 'XDS_ERR_TYPE_MISMATCH' });
  assert.throws(() => decodeMessage('istio.workload.Address', Uint8Array.of(0x0a, 0xff)), {
    code: 'XDS_ERR_DECODE',
  });
});
