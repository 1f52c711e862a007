import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  captureRuleset,
  replyRouteArgs,
  REPLY_MARK,
  REPLY_TABLE,
} from '../../../../src/ztunnel/capture/rules.js';

const PORTS = { outbound: 15001, inboundPlaintext: 15006, hbone: 15008 };

test("the pod's rules: outbound to 15001, inbound plaintext to 15006, HBONE and ztunnel's own sockets untouched", () => {
  const r = captureRuleset(PORTS, '10.244.1.1');
  assert.match(r, /tcp dport 15008 accept/);
  assert.match(r, /ip saddr 10\.244\.1\.1 accept\n\s+meta l4proto tcp redirect to :15006/);
  assert.match(
    r,
    /meta mark 0x539 accept\n\s+ip daddr 127\.0\.0\.0\/8 accept\n\s+meta l4proto tcp redirect to :15001/,
  );
});

test("replies to ztunnel's transparent connections are marked for the reply table, only in the reply direction", () => {
  const r = captureRuleset(PORTS);
  const chain = /chain reply \{([^}]*)\}/.exec(r)?.[1] ?? '';
  assert.match(chain, /type route hook output priority mangle/);
  assert.match(chain, /meta mark 0x539 ct mark set 0x111/);
  // Not in the original direction: ztunnel's own packets keep mark 0x539, so the nat output chain
  // still lets them through.
  assert.match(chain, /ct direction reply ct mark 0x111 meta mark set 0x111/);
});

test('the reply routing sends marked packets to the local stack, and is removed first so it can be re-added', () => {
  const a = replyRouteArgs('ml-n1-default-curl-1');
  assert.deepEqual(a.remove, [
    '-n',
    'ml-n1-default-curl-1',
    'rule',
    'del',
    'fwmark',
    '0x111/0xfff',
    'lookup',
    String(REPLY_TABLE),
  ]);
  assert.deepEqual(a.add, [
    ['-n', 'ml-n1-default-curl-1', 'route', 'replace', 'local', '0.0.0.0/0', 'dev', 'lo', 'table', '133'],
    ['-n', 'ml-n1-default-curl-1', 'rule', 'add', 'fwmark', '0x111/0xfff', 'lookup', '133'],
  ]);
  assert.equal(REPLY_MARK, 0x111);
});
