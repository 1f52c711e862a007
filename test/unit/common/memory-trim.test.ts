import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../../src/common/logger.js';
import { MemoryTrim } from '../../../src/common/memory-trim.js';

const MB = 1024 * 1024;

/**
 * A process whose resident size the test sets; a full collection makes `garbage` MB freeable, a trim
 * gives back what is freeable.
 */
function fakeProcess(startMb: number): {
  mb: number;
  freeable: number;
  garbage: number;
  trims: number;
  collections: number;
  trimmer: MemoryTrim;
} {
  const p = {
    mb: startMb,
    freeable: 0,
    garbage: 0,
    trims: 0,
    collections: 0,
    trimmer: undefined as unknown as MemoryTrim,
  };
  p.trimmer = new MemoryTrim(10_000, silentLogger(), 8, {
    rss: () => p.mb * MB,
    collect: () => {
      p.collections++;
      p.freeable += p.garbage;
      p.garbage = 0;
      return true;
    },
    trim: () => {
      p.trims++;
      p.mb -= p.freeable;
      const released = p.freeable > 0;
      p.freeable = 0;
      return released;
    },
  });
  return p;
}

test('steady memory: no trim at all', () => {
  const p = fakeProcess(90);
  for (const mb of [90, 92, 89, 95, 91]) {
    p.mb = mb;
    assert.equal(p.trimmer.tick(), undefined);
  }
  assert.equal(p.trims, 0);
});

test('after a burst the freed heap goes back, measured from the low mark', () => {
  const p = fakeProcess(90);
  p.mb = 130; // a bulk transfer's buffers, freed but kept by malloc
  p.freeable = 36;
  assert.equal(p.trimmer.tick(), 36);
  assert.equal(p.mb, 94);
  assert.equal(p.trimmer.tick(), undefined, 'back near the low mark: nothing to do');
});

test('a trim during a burst keeps the low mark, so the burst is trimmed again once it ends', () => {
  const p = fakeProcess(90);
  p.mb = 140;
  p.freeable = 10; // mid-burst: most of it is still live
  assert.equal(p.trimmer.tick(), 10);
  p.mb = 130; // the burst ended: its buffers are free now
  p.freeable = 38;
  assert.equal(p.trimmer.tick(), 38);
  assert.equal(p.mb, 92);
});

test('live growth (more pods, more tunnels) becomes the new low mark: no trim every tick', () => {
  const p = fakeProcess(90);
  p.mb = 150; // nothing of it is free
  assert.equal(p.trimmer.tick(), 0);
  assert.equal(p.trimmer.tick(), undefined);
  assert.equal(p.trimmer.tick(), undefined);
  assert.equal(p.trims, 1);
});

test('Buffers that died in the old generation are collected first, then their memory goes back', () => {
  const p = fakeProcess(90);
  p.mb = 155; // after a bulk transfer: 60 MB of dead Buffers no collection has freed yet
  p.garbage = 60;
  assert.equal(p.trimmer.tick(), 60);
  assert.equal(p.collections, 1);
  assert.equal(p.mb, 95);
});

test('steady memory: no collection forced either', () => {
  const p = fakeProcess(90);
  for (const mb of [90, 93, 91]) {
    p.mb = mb;
    p.trimmer.tick();
  }
  assert.equal(p.collections, 0);
});
