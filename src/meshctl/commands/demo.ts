import net, { type AddressInfo } from 'node:net';
import { execFile } from 'node:child_process';
import http from 'node:http';
import type { TLSSocket } from 'node:tls';
import { parseConfig, parsers, helpText } from '../../common/config.js';
import {
  createRootCa,
  createIntermediateCa,
  issueWorkloadCertificate,
  type CertificateAuthority,
} from '../../pki/ca.js';
import { spiffeIdOf, spiffeUri, type SpiffeId } from '../../pki/spiffe.js';
import { Credentials, CertSlot } from '../../hbone/credentials.js';
import { HboneServer } from '../../hbone/server.js';
import { HbonePool } from '../../hbone/pool.js';
import { relayToTcp, relayFromStream, type RelayOutcome } from '../../hbone/relay.js';
import { forwardedFor } from '../../hbone/headers.js';
import { startEcho } from '../../local/apps/echo.js';

const schema = {
  requests: {
    flag: 'requests',
    doc: 'requests to send through the tunnel',
    default: 3,
    parse: parsers.int(1, 1000),
  },
};

const USAGE = `Usage: meshctl demo [--requests N]

Runs two proxies on loopback and sends HTTP requests through an HBONE tunnel between them:
  client --TCP--> proxy A --HBONE (HTTP/2 CONNECT in mutual TLS 1.3)--> proxy B --TCP--> echo app
with certificates from a freshly made mesh CA, and prints what each side saw: identities, TLS, the
policy decision and the bytes carried. A client from a namespace the destination does not allow is
refused with 401. Needs no root; everything stays on 127.0.0.1.`;

const TD = 'cluster.local';

function creds(ca: CertificateAuthority, root: CertificateAuthority, ns: string, sa: string): Credentials {
  const w = issueWorkloadCertificate(ca, { trustDomain: TD, namespace: ns, serviceAccount: sa });
  return new Credentials(w.keyPem, w.chainPem.slice(0, -1), [root.rootPem]);
}

interface Seen {
  peer: string;
  target: string;
  tls: string;
  decision: string;
  forwarded: string;
}

export async function run(argv: string[]): Promise<number> {
  const { config, help } = parseConfig(schema, argv);
  if (help) {
    process.stdout.write(`${USAGE}\n\nOptions:\n${helpText(schema)}\n`);
    return 0;
  }
  const out = (s = ''): boolean => process.stdout.write(`${s}\n`);
  out('meshctl demo: two proxies, one HBONE tunnel, real mutual TLS on loopback\n');

  // 1. A mesh CA: a root and an intermediate that signs workload certificates.
  const root = createRootCa({ commonName: 'meshlite demo root' });
  const issuer = createIntermediateCa(root, { commonName: 'meshlite demo intermediate' });
  const echoId: SpiffeId = { trustDomain: TD, namespace: 'default', serviceAccount: 'echo' };
  const curlId: SpiffeId = { trustDomain: TD, namespace: 'default', serviceAccount: 'curl' };
  const echoCreds = creds(issuer, root, 'default', 'echo');
  const curlCreds = creds(issuer, root, 'default', 'curl');
  const intruderCreds = creds(issuer, root, 'other', 'intruder');
  out(`  mesh CA       root "meshlite demo root" -> intermediate -> EC P-256 workload certificates (24 h)`);

  // 2. The app and its node proxy (proxy B): HBONE in, plain TCP out, only namespace "default" allowed.
  const echo = await startEcho({ port: 0, host: '127.0.0.1', name: 'echo' });
  const seen: Seen[] = [];
  const outcomes: RelayOutcome[] = [];
  const proxyB = new HboneServer({
    certs: new CertSlot(echoCreds),
    onRequest: (req) => {
      const tlsSock = req.stream.session?.socket as TLSSocket | undefined;
      const tlsInfo = tlsSock
        ? `${tlsSock.getProtocol?.() ?? '?'} ${tlsSock.getCipher?.().name ?? '?'}, ALPN ${req.stream.session?.alpnProtocol ?? '?'}`
        : '?';
      const allowed = req.peer.namespace === 'default';
      seen.push({
        peer: req.peerUri,
        target: req.target.authority,
        tls: tlsInfo,
        decision: allowed
          ? 'ALLOW (peer namespace is default)'
          : `DENY (peer namespace "${req.peer.namespace}" is not allowed) -> 401`,
        forwarded: String(req.headers.forwarded ?? ''),
      });
      if (!allowed) return req.reject(401);
      relayToTcp(req, (o) => outcomes.push(o));
    },
  });
  const b = await proxyB.listen(0, '127.0.0.1');
  out(`  app echo      http://127.0.0.1:${echo.port}`);
  out(
    `  proxy B       HBONE server on 127.0.0.1:${b.port}, presents ${spiffeUri(echoId)}, allows namespace "default"`,
  );

  // 3. The client's node proxy (proxy A): plain TCP in, HBONE out with the client's identity.
  const pool = new HbonePool();
  const serverSeen: string[] = [];
  const startProxyA = async (source: Credentials): Promise<net.Server> => {
    const srv = net.createServer({ allowHalfOpen: true, noDelay: true }, (sock) => {
      relayFromStream(
        sock,
        pool,
        {
          source,
          host: '127.0.0.1',
          port: b.port,
          expectedIdentities: [spiffeUri(echoId)],
          target: `127.0.0.1:${echo.port}`,
          forwarded: forwardedFor(sock.remoteAddress ?? '127.0.0.1', sock.remotePort ?? 0),
        },
        () => {},
      );
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    return srv;
  };
  const proxyA = await startProxyA(curlCreds);
  const aPort = (proxyA.address() as AddressInfo).port;
  out(
    `  proxy A       outbound on 127.0.0.1:${aPort}, tunnels as ${spiffeUri(curlId)}, expects ${spiffeUri(echoId)}\n`,
  );

  // Learn the identity proxy A verified on its HBONE connection.
  const probe = await pool.connect({
    source: curlCreds,
    host: '127.0.0.1',
    port: b.port,
    expectedIdentities: [spiffeUri(echoId)],
    target: `127.0.0.1:${echo.port}`,
  });
  const peerCert = (probe.session?.socket as TLSSocket | undefined)?.getPeerX509Certificate?.();
  const verified = peerCert ? spiffeIdOf(peerCert) : undefined;
  if (verified) serverSeen.push(spiffeUri(verified));
  probe.end();
  probe.resume();
  seen.length = 0;
  outcomes.length = 0;

  let failures = 0;
  for (let i = 1; i <= config.requests; i++) {
    const url = `http://127.0.0.1:${aPort}/hello?request=${i}`;
    const res = await httpGet(url);
    out(`-> GET ${url}   (client -> proxy A => HBONE => proxy B -> echo)`);
    if (res.error) {
      failures++;
      out(`   failed: ${res.error}`);
      continue;
    }
    const body = JSON.parse(res.body) as { servedBy: string; peer: string; path: string };
    out(
      `   ${res.status} from ${body.servedBy}: path ${body.path}, the app saw the connection come from ${body.peer}`,
    );
  }
  await waitFor(() => outcomes.length >= config.requests, 2000);

  // 4. A client from another namespace: proxy B refuses it (401) and nothing reaches the app.
  const intruderA = await startProxyA(intruderCreds);
  const intruderPort = (intruderA.address() as AddressInfo).port;
  const denied = await httpGet(`http://127.0.0.1:${intruderPort}/hello`);
  out(
    `-> GET through a proxy holding ${spiffeUri({ trustDomain: TD, namespace: 'other', serviceAccount: 'intruder' })}`,
  );
  out(
    `   ${denied.error ? `refused: the connection was reset by proxy A after proxy B answered 401` : `unexpected answer ${denied.status}`}\n`,
  );
  if (!denied.error) failures++;

  out('What each side saw:');
  out(`  proxy A verified the server: ${serverSeen[0] ?? 'unknown'}`);
  const uniq = new Map(seen.map((s) => [`${s.peer}|${s.decision}`, s]));
  for (const s of uniq.values()) {
    out(`  proxy B: peer ${s.peer}`);
    out(`           CONNECT ${s.target}, ${s.tls}, ${s.forwarded ? `forwarded: ${s.forwarded}` : ''}`);
    out(`           policy: ${s.decision}`);
  }
  const bytesUp = outcomes.reduce((n, o) => n + (o.result?.aToB ?? 0), 0);
  const bytesDown = outcomes.reduce((n, o) => n + (o.result?.bToA ?? 0), 0);
  out(
    `  tunnels carried ${bytesUp} bytes to the app and ${bytesDown} bytes back over ${pool.connectionCount} pooled HBONE connection(s)`,
  );
  out(failures === 0 ? '\ndemo: OK' : `\ndemo: ${failures} step(s) did not go as expected`);

  proxyA.close();
  intruderA.close();
  pool.close();
  await proxyB.close();
  echo.server.close();
  return failures === 0 ? 0 : 1;
}

function waitFor(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  return new Promise((resolve) => {
    const tick = (): void => {
      if (cond() || Date.now() > end) resolve();
      else setTimeout(tick, 10);
    };
    tick();
  });
}

/** GET through curl when it is installed (a real separate client), else node's http client. */
function httpGet(url: string): Promise<{ status: number; body: string; error?: string }> {
  return new Promise((resolve) => {
    execFile(
      'curl',
      ['-sS', '--max-time', '5', '-o', '-', '-w', '\n%{http_code}', url],
      (err, stdout, stderr) => {
        if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
          const req = http.get(url, { agent: false }, (res) => {
            let body = '';
            res.on('data', (d: Buffer) => (body += d.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          });
          req.on('error', (e) => resolve({ status: 0, body: '', error: e.message }));
          return;
        }
        if (err) {
          resolve({ status: 0, body: '', error: (stderr || err.message).trim() });
          return;
        }
        const i = stdout.lastIndexOf('\n');
        resolve({ status: Number(stdout.slice(i + 1)), body: stdout.slice(0, i) });
      },
    );
  });
}
