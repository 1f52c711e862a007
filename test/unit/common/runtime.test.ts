import { test } from 'node:test';
import assert from 'node:assert/strict';
import { REQUIRED_NODE_MAJOR, runtimeProblem } from '../../../src/common/runtime.js';

test('the Node.js the tests run on is the one the project requires', () => {
  assert.ok(Number(process.versions.node.split('.')[0]) >= REQUIRED_NODE_MAJOR, process.version);
  assert.equal(runtimeProblem('meshctl'), undefined);
});

test('an older Node gets one message naming the version needed and the commands to use instead', () => {
  const msg = runtimeProblem('meshctl', '20.20.2', '/x/dist/src/meshctl/main.js')!;
  assert.match(msg, new RegExp(`Node.js ${REQUIRED_NODE_MAJOR} or newer; this is Node.js v20.20.2`));
  assert.match(msg, /npm ci/);
  assert.match(msg, /bin\/meshctl \.\.\./);
  assert.match(msg, /node_modules\/\.bin\/node .*dist\/src\/meshctl\/main\.js \.\.\./);
});

test('a program that is not a package executable is named by its script only', () => {
  const msg = runtimeProblem('echo', '18.0.0', '/x/dist/src/local/apps/echo-main.js')!;
  assert.doesNotMatch(msg, /bin\/echo/);
  assert.match(msg, /echo-main\.js/);
});
