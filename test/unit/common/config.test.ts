import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig, parsers, helpText, parseDuration, splitHostPort } from '../../../src/common/config.js';
import { MeshError } from '../../../src/common/errors.js';

const schema = {
  port: { flag: 'port', env: 'T_PORT', doc: 'listen port', default: 15008, parse: parsers.port },
  timeout: { flag: 'timeout', env: 'T_TIMEOUT', doc: 'timeout', default: 10_000, parse: parsers.duration },
  tls: { flag: 'tls', env: 'T_TLS', doc: 'use TLS', default: true, parse: parsers.bool, boolean: true },
  mode: {
    flag: 'mode',
    doc: 'mode',
    default: 'ambient' as 'ambient' | 'sidecar',
    parse: parsers.oneOf('ambient', 'sidecar'),
  },
};

test('defaults apply when neither flag nor environment is set', () => {
  const { config } = parseConfig(schema, [], {});
  assert.deepEqual(config, { port: 15008, timeout: 10_000, tls: true, mode: 'ambient' });
});

test('flags beat environment, environment beats defaults', () => {
  const { config } = parseConfig(schema, ['--port', '9000', '--timeout=2s'], {
    T_PORT: '8000',
    T_TLS: 'false',
  });
  assert.equal(config.port, 9000);
  assert.equal(config.timeout, 2000);
  assert.equal(config.tls, false);
});

test('boolean flags may be bare or negated; positionals and -- are kept', () => {
  const { config, rest } = parseConfig(schema, ['up', '--no-tls', '--', '--port', 'x'], {});
  assert.equal(config.tls, false);
  assert.deepEqual(rest, ['up', '--port', 'x']);
});

test('a bad value names the flag or variable and what is expected', () => {
  assert.throws(
    () => parseConfig(schema, ['--port', '70000'], {}),
    (e: unknown) =>
      e instanceof MeshError &&
      e.code === 'CFG_ERR_INVALID' &&
      /--port: "70000" is not an integer in \[0, 65535\]/.test(e.message),
  );
  assert.throws(
    () => parseConfig(schema, [], { T_TIMEOUT: 'soon' }),
    /environment variable T_TIMEOUT: "soon" is not a duration/,
  );
  assert.throws(() => parseConfig(schema, ['--mode', 'x'], {}), /one of ambient, sidecar/);
});

test('an unknown flag lists the known ones', () => {
  assert.throws(
    () => parseConfig(schema, ['--prot', '1'], {}),
    /unknown flag --prot; known flags: --port, --timeout, --tls, --mode/,
  );
});

test('--help is reported and the help text shows flags, env names and defaults', () => {
  assert.equal(parseConfig(schema, ['--help'], {}).help, true);
  const text = helpText(schema);
  assert.match(text, /--port \(T_PORT\)\s+listen port \[default: 15008\]/);
});

test('durations and host:port', () => {
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseDuration('5m'), 300_000);
  assert.equal(parseDuration('120'), 120);
  assert.equal(parseDuration('1d'), undefined);
  assert.deepEqual(splitHostPort('127.0.0.1:15010'), { host: '127.0.0.1', port: 15010 });
  assert.deepEqual(splitHostPort('[::1]:80'), { host: '::1', port: 80 });
  assert.equal(splitHostPort('::1:80'), undefined);
  assert.equal(splitHostPort('host:99999'), undefined);
});

test('a repeatable flag keeps every value in order; any other flag keeps the last', () => {
  const schema = {
    file: { flag: 'file', doc: 'f', default: [] as string[], parse: (r: string) => [r], repeatable: true },
    name: { flag: 'name', doc: 'n', default: '', parse: parsers.string },
  };
  const { config } = parseConfig(schema, ['--file', 'a', '--name', 'x', '--file=b', '--name', 'y'], {});
  assert.deepEqual(config.file, ['a', 'b']);
  assert.equal(config.name, 'y');
  assert.deepEqual(parseConfig(schema, [], {}).config.file, []);
});
