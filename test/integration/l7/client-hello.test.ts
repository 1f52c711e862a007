import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import { parseClientHello } from '../../../src/l7/http/client-hello.js';

/** The first bytes a real TLS client sends (Node's, with or without SNI). */
async function clientHello(servername: string | undefined): Promise<Buffer> {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const got = new Promise<Buffer>((resolve) =>
    srv.once('connection', (s) => {
      s.once('data', (b: Buffer) => {
        resolve(b);
        s.destroy();
      });
    }),
  );
  const c = tls.connect({ port: (srv.address() as net.AddressInfo).port, host: '127.0.0.1', servername });
  c.on('error', () => undefined);
  const bytes = await got;
  c.destroy();
  srv.close();
  return bytes;
}

test('the server name of a real ClientHello, with the bytes arriving in pieces', async () => {
  const hello = await clientHello('Shop.Example.com');
  assert.deepEqual(parseClientHello(hello), { kind: 'hello', sni: 'shop.example.com' });
  for (const cut of [1, 4, 5, 40, hello.length - 1])
    assert.deepEqual(parseClientHello(hello.subarray(0, cut)), { kind: 'more' });
  assert.deepEqual(parseClientHello(await clientHello('')), { kind: 'hello', sni: undefined });
});

test('bytes that are not a TLS ClientHello are told apart at once', () => {
  assert.deepEqual(parseClientHello(Buffer.from('GET / HTTP/1.1\r\n')), { kind: 'not-tls' });
  assert.deepEqual(parseClientHello(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x02, 0, 0, 1, 0])), {
    kind: 'not-tls',
  });
  assert.deepEqual(
    parseClientHello(Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff])),
    { kind: 'not-tls' },
    'a record over 16 KiB',
  );
});
