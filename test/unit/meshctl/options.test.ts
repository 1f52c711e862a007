import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expandShortFlags } from '../../../src/meshctl/options.js';
import { age } from '../../../src/meshctl/get-columns.js';

test('kubectl short flags become long flags', () => {
  assert.deepEqual(expandShortFlags(['get', 'ap', '-n', 'demo', '-oyaml', '-A']), [
    'get',
    'ap',
    '--namespace',
    'demo',
    '--output=yaml',
    '--all-namespaces',
  ]);
  assert.deepEqual(expandShortFlags(['-f', 'x.yaml', '--', '-n']), ['--filename', 'x.yaml', '--', '-n']);
});

test('ages print as kubectl does', () => {
  const now = Date.parse('2026-01-10T00:00:00Z');
  assert.equal(age('2026-01-09T23:59:15Z', now), '45s');
  assert.equal(age('2026-01-09T23:00:00Z', now), '60m');
  assert.equal(age('2026-01-09T12:00:00Z', now), '12h');
  assert.equal(age('2026-01-01T00:00:00Z', now), '9d');
  assert.equal(age(undefined, now), '<unknown>');
});
