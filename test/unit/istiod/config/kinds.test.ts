import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collectionPath, fileStem, kindIdOf, resolveKindName } from '../../../../src/istiod/config/kinds.js';

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
    ['gateway', 'Gateway'],
    ['gateways', 'Gateway'],
    ['gw', 'IstioGateway'],
    ['gateways.networking.istio.io', 'IstioGateway'],
    ['gateway.networking.istio.io', 'IstioGateway'],
    ['se', 'ServiceEntry'],
    ['deploy', 'Deployment'],
    ['AuthorizationPolicy', 'AuthorizationPolicy'],
    ['gateways.gateway.networking.k8s.io', 'Gateway'],
    ['gateway.gateway.networking.k8s.io', 'Gateway'],
    ['vs', 'VirtualService'],
    ['destinationrules.networking.istio.io', 'DestinationRule'],
    ['httproute', 'HTTPRoute'],
  ];
  for (const [typed, id] of cases) assert.equal(resolveKindName(typed)?.id, id, typed);
  assert.equal(resolveKindName('envoyfilter'), undefined);
});

test('REST collection paths', () => {
  assert.equal(collectionPath(resolveKindName('pods')!), '/api/v1/pods');
  assert.equal(collectionPath(resolveKindName('ap')!), '/apis/security.istio.io/v1/authorizationpolicies');
  assert.equal(collectionPath(resolveKindName('endpointslice')!), '/apis/discovery.k8s.io/v1/endpointslices');
});

test('a kind is its group and kind: the two Gateways are told apart by apiVersion', () => {
  assert.equal(kindIdOf({ apiVersion: 'networking.istio.io/v1beta1', kind: 'Gateway' }), 'IstioGateway');
  assert.equal(kindIdOf({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway' }), 'Gateway');
  assert.equal(kindIdOf({ apiVersion: 'example.com/v1', kind: 'Gateway' }), undefined);
  assert.equal(kindIdOf({ apiVersion: 'v1', kind: 'Service' }), 'Service');
  assert.equal(collectionPath(resolveKindName('gw')!), '/apis/networking.istio.io/v1/gateways');
  // Their files in a configuration directory do not collide.
  assert.equal(fileStem('gateway.networking.k8s.io/v1', 'Gateway'), 'gateway');
  assert.equal(fileStem('networking.istio.io/v1', 'Gateway'), 'gateway.networking.istio.io');
  assert.equal(fileStem('v1', 'Service'), 'service');
});
