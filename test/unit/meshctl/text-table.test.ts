import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatTable } from '../../../src/meshctl/text-table.js';

test('columns are as wide as their widest cell plus the gap; no trailing spaces', () => {
  const text = formatTable(
    ['NAMESPACE', 'POD NAME', 'PROTOCOL'],
    [
      ['default', 'echo-1', 'HBONE'],
      ['legacy', 'a-much-longer-name', ''],
    ],
  );
  assert.equal(
    text,
    [
      'NAMESPACE POD NAME           PROTOCOL',
      'default   echo-1             HBONE',
      'legacy    a-much-longer-name',
      '',
    ].join('\n'),
  );
});

test('a wider gap, and a header alone when there are no rows', () => {
  assert.equal(formatTable(['A', 'B'], [['x', 'y']], { gap: 5 }), 'A     B\nx     y\n');
  assert.equal(formatTable(['NAME', 'STATUS'], []), 'NAME STATUS\n');
});
