import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino, type LoggerOptions } from 'pino';
import { JsonLineWriter } from '../../../src/common/json-line.js';
import { createLogger } from '../../../src/common/logger.js';

function sink(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { lines, stream };
}

/** The same line with its time member blanked (the two writes happen at different instants). */
const noTime = (l: string): string => l.replace(/"time":("[^"]*"|\d+)/, '"time":0');

const RECORD = { a: 'x"y\\z', b: 42, c: 'ünï\u0001\n', d: '' };
const members = Object.entries(RECORD)
  .map(([k, v]) => `,"${k}":${JSON.stringify(v)}`)
  .join('');

test("lines are pino's own lines: default and createLogger settings, child bindings, setBindings", () => {
  const cases: Array<(dest: Writable) => pino.Logger> = [
    (d) => pino({}, d),
    (d) => createLogger({ component: 'waypoint', level: 'info', destination: d }).child({ conn: 'c"1' }),
    (d) => pino({ formatters: { level: (l) => ({ severity: l.toUpperCase() }) }, timestamp: false }, d),
    (d) => pino({ messageKey: 'message', base: { svc: 'x' } }, d),
  ];
  for (const make of cases) {
    const ours = sink();
    const theirs = sink();
    const log = make(ours.stream);
    const ref = make(theirs.stream);
    const w = JsonLineWriter.of(log, 'info', 'access', Object.keys(RECORD));
    assert.ok(w);
    w.write(members);
    ref.info(RECORD, 'access');
    log.setBindings({ later: 1 });
    ref.setBindings({ later: 1 });
    w.write(members);
    ref.info(RECORD, 'access');
    assert.deepEqual(ours.lines.map(noTime), theirs.lines.map(noTime));
    assert.doesNotThrow(() => JSON.parse(ours.lines[0]!));
  }
});

test('enabled follows the logger level as it changes', () => {
  const log = pino({ level: 'warn' }, sink().stream);
  const w = JsonLineWriter.of(log, 'info', 'access', [])!;
  assert.equal(w.enabled, false);
  log.level = 'debug';
  assert.equal(w.enabled, true);
  assert.equal(JsonLineWriter.of(pino({ enabled: false }), 'info', 'access', [])!.enabled, false);
});

test('no writer where pino would change the record: mixin, formatters.log, hooks, redaction, serializers, prefix', () => {
  const dest = sink().stream;
  const refused: LoggerOptions[] = [
    { mixin: () => ({ x: 1 }) },
    { formatters: { log: (o) => o } },
    { hooks: { streamWrite: (s) => s } },
    { hooks: { logMethod: (args, m) => m.apply(pino(), args) } },
    { redact: ['b'] },
    { serializers: { a: (v: unknown) => v } },
    { nestedKey: 'payload' },
    { msgPrefix: '[x] ' },
  ];
  for (const o of refused)
    assert.equal(JsonLineWriter.of(pino(o, dest), 'info', 'access', ['a', 'b']), undefined);
  assert.equal(
    JsonLineWriter.of(pino({}, dest).child({}, { msgPrefix: 'p' }), 'info', 'm', ['a']),
    undefined,
  );
  assert.equal(
    JsonLineWriter.of(pino({}, pino.multistream([{ stream: dest }])), 'info', 'm', ['a']),
    undefined,
  );
  assert.equal(JsonLineWriter.of(pino({}, dest), 'nope', 'm', ['a']), undefined);
  // Redaction of other keys, serializers of other keys: pino would not touch these records.
  assert.ok(JsonLineWriter.of(pino({ redact: ['z'], serializers: { z: String } }, dest), 'info', 'm', ['a']));
});
