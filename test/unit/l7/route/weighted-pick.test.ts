import { test } from 'node:test';
import assert from 'node:assert/strict';
import { weightedPick } from '../../../../src/l7/route/decide.js';

test('a weighted pick follows the weights, skipping weight 0', () => {
  const items = [
    { id: 'a', weight: 90 },
    { id: 'off', weight: 0 },
    { id: 'b', weight: 10 },
  ];
  const at = (r: number) => weightedPick(items, 100, () => r).id;
  assert.equal(at(0), 'a');
  assert.equal(at(0.899), 'a');
  assert.equal(at(0.9), 'b');
  assert.equal(at(0.999), 'b');
});
