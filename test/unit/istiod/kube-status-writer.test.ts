import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acceptedConditions } from '../../../src/istiod/kube-status-writer.js';

test('Accepted=False names the problems; True again when fixed; unchanged verdicts write nothing', () => {
  const rejected = acceptedConditions(
    undefined,
    ['spec.action: must be ALLOW, DENY, AUDIT or CUSTOM'],
    2,
    't1',
  )!;
  assert.deepEqual(rejected, [
    {
      type: 'Accepted',
      status: 'False',
      reason: 'Invalid',
      message: 'spec.action: must be ALLOW, DENY, AUDIT or CUSTOM',
      lastTransitionTime: 't1',
      observedGeneration: 2,
    },
  ]);
  assert.equal(
    acceptedConditions(rejected, ['spec.action: must be ALLOW, DENY, AUDIT or CUSTOM'], 2, 't2'),
    undefined,
  );
  const other = {
    type: 'Reconciled',
    status: 'True' as const,
    reason: 'r',
    message: 'm',
    lastTransitionTime: 't0',
  };
  const fixed = acceptedConditions([other, ...rejected], [], 3, 't3')!;
  assert.deepEqual(fixed[0], other, 'other conditions are kept');
  assert.deepEqual(
    [fixed[1]!.status, fixed[1]!.reason, fixed[1]!.lastTransitionTime],
    ['True', 'Accepted', 't3'],
  );
});
