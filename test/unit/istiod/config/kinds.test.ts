import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collectionPath, resolveKindName } from '../../../../src/istiod/config/kinds.js';

test('kind names as people type them', () => {
  const cases: [string, string][] = [
    ['ns', 'Namespace'],
    ['po', 'Pod'],
    ['svc', 'Service'],
    ['services', 'Service'],
    ['authorizationpolicy', 'AuthorizationPolicy'],
    ['ap', 'AuthorizationPolicy'],
    ['pa', 'PeerAuthentication'],
    ['gtw', 'Gateway'],
    ['se', 'ServiceEntry'],
    ['deploy', 'Deployment'],
    ['AuthorizationPolicy', 'AuthorizationPolicy'],
    ['gateways.gateway.networking.k8s.io', 'Gateway'],
    ['vs', 'VirtualService'],
    ['destinationrules.networking.istio.io', 'DestinationRule'],
    ['httproute', 'HTTPRoute'],
  ];
  for (const [typed, kind] of cases) assert.equal(resolveKindName(typed)?.kind, kind, typed);
  assert.equal(resolveKindName('envoyfilter'), undefined);
});

test('REST collection paths', () => {
  assert.equal(collectionPath(resolveKindName('pods')!), '/api/v1/pods');
  assert.equal(collectionPath(resolveKindName('ap')!), '/apis/security.istio.io/v1/authorizationpolicies');
  assert.equal(collectionPath(resolveKindName('endpointslice')!), '/apis/discovery.k8s.io/v1/endpointslices');
});
