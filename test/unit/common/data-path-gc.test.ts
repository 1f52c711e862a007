import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DATA_PATH_V8_FLAGS, tuneGcForDataPath } from '../../../src/common/data-path-gc.js';

test('the proxies count Buffer memory in the heap limit by default', () => {
  assert.deepEqual(tuneGcForDataPath({}), DATA_PATH_V8_FLAGS);
  assert.deepEqual(tuneGcForDataPath({ MESHLITE_V8_EXTERNAL_MEMORY: 'global' }), DATA_PATH_V8_FLAGS);
  assert.ok(DATA_PATH_V8_FLAGS.includes('--external-memory-accounted-in-global-limit'));
});

test("MESHLITE_V8_EXTERNAL_MEMORY=separate keeps V8's default", () => {
  assert.deepEqual(tuneGcForDataPath({ MESHLITE_V8_EXTERNAL_MEMORY: 'separate' }), []);
});

test('an unknown MESHLITE_V8_EXTERNAL_MEMORY value is named in a warning and the default applies', async () => {
  const warned = new Promise<Error>((resolve) => process.once('warning', resolve));
  assert.deepEqual(tuneGcForDataPath({ MESHLITE_V8_EXTERNAL_MEMORY: 'off' }), DATA_PATH_V8_FLAGS);
  const w = await warned;
  assert.match(
    w.message,
    /MESHLITE_V8_EXTERNAL_MEMORY must be "global" \(default\) or "separate", not "off"/,
  );
});
