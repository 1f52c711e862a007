import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDocuments } from '../../../../src/istiod/config/parse-documents.js';

test('multi-document YAML: each document validated with its index; empty documents skipped', () => {
  const text = `---
apiVersion: v1
kind: Namespace
metadata: {name: a}
---
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: strict, namespace: istio-system}
spec: {mtls: {mode: STRIKT}}
`;
  const parsed = parseDocuments(text, 'mesh.yaml');
  assert.ok(parsed.ok);
  if (!parsed.ok) return;
  assert.deepEqual(
    parsed.documents.map((d) => d.result.status),
    ['valid', 'invalid'],
  );
  const bad = parsed.documents[1]!.result;
  assert.equal(
    bad.status === 'invalid' && bad.issues[0]!.text,
    'mesh.yaml, document 3: PeerAuthentication istio-system/strict: spec.mtls.mode: "STRIKT" is not one of UNSET, DISABLE, PERMISSIVE, STRICT',
  );
  assert.equal(bad.status === 'invalid' && bad.key, 'PeerAuthentication/istio-system/strict');
});

test('a YAML syntax error is one issue naming the file, document and line', () => {
  const parsed = parseDocuments('kind: Namespace\nmetadata: {name: a\n', 'broken.yaml');
  assert.equal(parsed.ok, false);
  if (parsed.ok) return;
  assert.match(parsed.issue.text, /^broken\.yaml, document 1: not valid YAML at line \d+, column \d+: /);
});

test('JSON and kind: List are read item by item', () => {
  const list = {
    apiVersion: 'v1',
    kind: 'List',
    items: [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } },
      { apiVersion: 'v1', kind: 'Namespace', metadata: {} },
    ],
  };
  const parsed = parseDocuments(JSON.stringify(list), 'all.json');
  assert.ok(parsed.ok);
  if (!parsed.ok) return;
  assert.equal(parsed.documents.length, 2);
  const second = parsed.documents[1]!.result;
  assert.equal(
    second.status === 'invalid' && second.issues[0]!.text,
    'all.json, document 1, item 2: Namespace <no name>: metadata.name: is required',
  );
});
