/**
 * Every resource the ambient index computes from a realistic configuration encodes with the wire
 * layer's protobufjs codec (`encodeMessage`, `toAny`) and decodes back to the same value, field by
 * field: no field is silently dropped because of a wrong name or type.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import protobuf from 'protobufjs';
import { parseDocuments } from '../../../src/istiod/config/parse-documents.js';
import { AmbientIndex } from '../../../src/istiod/model/ambient-index.js';
import type { ConfigObject } from '../../../src/istiod/model/inputs.js';
import { decodeMessage, encodeMessage, fromAny, toAny } from '../../../src/xds/codec.js';
import { messageType } from '../../../src/xds/proto-root.js';
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL } from '../../../src/xds/type-urls.js';
import { MESH_FILES } from './fixtures.js';

function loadIndex(): AmbientIndex {
  const index = new AmbientIndex();
  index.batch(() => {
    for (const [file, text] of Object.entries(MESH_FILES)) {
      const parsed = parseDocuments(text, file);
      assert.ok(parsed.ok, `${file} parses`);
      for (const d of parsed.documents) {
        assert.equal(d.result.status, 'valid', `${file}: ${JSON.stringify(d.result)}`);
        if (d.result.status === 'valid') index.upsert(d.result.object as ConfigObject);
      }
    }
  });
  return index;
}

/**
 * The value as proto3 sees it: fields at their default (empty string, 0, false, empty list or map)
 * dropped unless they are in a oneof or `optional`; bytes as plain byte arrays; a field the message
 * does not have is an error (encodeMessage would drop it silently).
 */
function canonical(type: protobuf.Type, value: Record<string, unknown>, path: string): unknown {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    if (value[key] !== undefined && !type.fields[key]) {
      assert.fail(`${path}.${key}: ${type.fullName} has no field ${key}`);
    }
  }
  for (const field of type.fieldsArray) {
    field.resolve();
    const v = value[field.name];
    if (v === undefined || v === null) continue;
    const at = `${path}.${field.name}`;
    const one = (x: unknown, i: string): unknown =>
      field.resolvedType instanceof protobuf.Type
        ? canonical(field.resolvedType, x as Record<string, unknown>, i)
        : x instanceof Uint8Array
          ? [...x]
          : x;
    if (field.map) {
      const entries = Object.entries(v as Record<string, unknown>);
      if (entries.length > 0) out[field.name] = Object.fromEntries(entries.map(([k, x]) => [k, one(x, at)]));
    } else if (field.repeated) {
      const list = v as unknown[];
      if (list.length > 0) out[field.name] = list.map((x, i) => one(x, `${at}[${i}]`));
    } else {
      const isDefault = v === '' || v === 0 || v === false || (v instanceof Uint8Array && v.length === 0);
      if (isDefault && !field.partOf) continue;
      out[field.name] = one(v, at);
    }
  }
  return out;
}

function roundTrip(fullName: string, name: string, value: object): void {
  const type = messageType(fullName);
  const decoded = decodeMessage<Record<string, unknown>>(fullName, encodeMessage(fullName, value));
  assert.deepEqual(
    canonical(type, decoded, name),
    canonical(type, value as Record<string, unknown>, name),
    `${name} survives encode/decode`,
  );
  const viaAny = fromAny<Record<string, unknown>>(toAny(fullName, value), `type.googleapis.com/${fullName}`);
  assert.deepEqual(canonical(type, viaAny, name), canonical(type, decoded, name));
}

test('every Address and Authorization the index computes encodes and decodes back equal', () => {
  const { addresses, authorizations } = loadIndex().snapshot();
  assert.equal(ADDRESS_TYPE_URL, 'type.googleapis.com/istio.workload.Address');
  assert.equal(AUTHORIZATION_TYPE_URL, 'type.googleapis.com/istio.security.Authorization');
  for (const [name, a] of addresses) roundTrip('istio.workload.Address', name, a);
  for (const [name, a] of authorizations) roundTrip('istio.security.Authorization', name, a);

  // The fixture exercises what it claims to, so the loop above covered each shape.
  const workloads = [...addresses.values()].flatMap((a) => (a.workload ? [a.workload] : []));
  const services = [...addresses.values()].flatMap((a) => (a.service ? [a.service] : []));
  assert.ok(
    workloads.some((w) => w.addresses?.some((b) => b.length === 16)),
    'a dual-stack pod',
  );
  assert.ok(
    workloads.some((w) => w.nativeTunnel),
    'a waypoint pod',
  );
  assert.ok(
    workloads.some((w) => w.uid?.includes('ServiceEntry')),
    'a ServiceEntry endpoint',
  );
  assert.ok(
    services.some((s) => s.waypoint?.hostname),
    'a service bound to a waypoint',
  );
  assert.ok(
    services.some((s) => s.hostname === 'api.example.com'),
    'a ServiceEntry service',
  );
  assert.deepEqual([...authorizations.keys()].sort(), [
    'demo/allow-client',
    'demo/converted_peer_authentication_web-metrics',
    'demo/deny-legacy-writes',
    'istio-system/deny-test-net',
    'istio-system/istio_converted_static_strict',
  ]);
  const portLevel = authorizations.get('demo/converted_peer_authentication_web-metrics');
  assert.deepEqual(portLevel?.groups?.[0]?.rules?.[0]?.matches?.[0]?.notDestinationPorts, [9090]);
  const strict = authorizations.get('istio-system/istio_converted_static_strict');
  assert.deepEqual(strict?.groups?.[0]?.rules?.[0]?.matches?.[0]?.notPrincipals, [{ presence: {} }]);
});

test('the canonical comparison catches a misnamed field', () => {
  const type = messageType('istio.workload.Address');
  assert.throws(
    () => canonical(type, { workload: { uid: 'x', tunnelProtocl: 1 } }, 'probe'),
    /has no field tunnelProtocl/,
  );
});
