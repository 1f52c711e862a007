/**
 * Istio's classic ingress end to end (root): Bookinfo with a networking.istio.io Gateway (selector
 * istio: ingressgateway) and a VirtualService bound through `gateways`
 * (deploy/samples/bookinfo-gateway-classic.yaml). The cluster deploys istio-system/istio-ingressgateway
 * for it; the host curls $GATEWAY_URL/productpage; the gateway reaches productpage over HBONE with
 * Istio's ingress identity; Istio's routing task works from the host; a match entry's `gateways` holds it
 * to the gateway or to the mesh; an HTTPS server terminates TLS with its credentialName Secret and an
 * HTTP server redirects with httpsRedirect; a MUTUAL server requires a client certificate of its CA
 * and forwards it to the app (x-forwarded-client-cert); a PASSTHROUGH server routes TLS by SNI to an
 * app that ends it (VirtualService tls routes); a VirtualService naming a missing
 * Gateway is reported (IST0101); deleting the Gateway removes the ingress deployment and its token.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { runCommand } from '../../../src/local/netns/index.js';
import { httpsEchoApp, tlsSecretYaml, webCert } from '../../fixtures/web-cert.js';
import { createRootCa } from '../../../src/pki/ca.js';
import { skip, waitFor, meshctl, startCluster } from './harness.js';

const NAME = `mlc${process.pid % 100000}`;
const INGRESS_SA = 'spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account';

async function hostCurl(
  url: string,
  headers: string[] = [],
  extra: string[] = [],
): Promise<{ code: number; body: string }> {
  const args = ['-sS', '--max-time', '5', '-w', '\n%{http_code}', ...extra];
  for (const h of headers) args.push('-H', h);
  try {
    const out = (await runCommand('curl', [...args, url])).stdout;
    const i = out.lastIndexOf('\n');
    return { code: Number(out.slice(i + 1)), body: out.slice(0, i) };
  } catch (err) {
    return { code: 0, body: (err as Error).message };
  }
}

const reviewsOf = (body: string): string => {
  try {
    return String((JSON.parse(body) as { reviews?: { servedBy?: string } }).reviews?.servedBy ?? '');
  } catch {
    return '';
  }
};

test(
  'classic ingress: Gateway (istio: ingressgateway) + VirtualService gateways, Bookinfo from the host',
  { skip, timeout: 240_000 },
  async (t) => {
    const cluster = await startCluster(t, NAME, [
      'deploy/samples/bookinfo.yaml',
      'deploy/samples/bookinfo-gateway-classic.yaml',
      'deploy/local/demo.yaml',
    ]);
    const cfg = cluster.dirs.config;
    let url = '';
    /** Writes objects to a file beside the config directory and applies it, as a user would. */
    const apply = async (name: string, yaml: string): Promise<string> => {
      const file = join(cfg, '..', name);
      await writeFile(file, yaml);
      const ap = await meshctl(['apply', '-f', file, '--config-dir', cfg]);
      assert.equal(ap.code, 0, ap.out);
      return ap.out;
    };

    await t.test('istio-ingressgateway runs in istio-system; meshctl prints $GATEWAY_URL', async () => {
      await waitFor(
        'the ingress gateway Service address',
        async () => {
          const r = await meshctl([
            'gateway',
            'url',
            'bookinfo-gateway',
            '-n',
            'bookinfo',
            '--config-dir',
            cfg,
          ]);
          url = r.out.trim();
          return r.code === 0;
        },
        60_000,
      );
      assert.match(url, /^http:\/\/10\.96\.\d+\.\d+$/);
      await waitFor('the ingress gateway pod', () =>
        cluster.pods.some((p) => p.namespace === 'istio-system' && p.deployment === 'istio-ingressgateway'),
      );
      const pod = cluster.pods.find((p) => p.namespace === 'istio-system')!;
      assert.equal(pod.name, 'istio-ingressgateway-1');
      assert.equal(pod.spec.serviceAccountName, 'istio-ingressgateway-service-account');
      assert.ok(!pod.spec.sidecar);
      const list = await meshctl(['gateway', 'list', '-A', '--config-dir', cfg]);
      assert.match(list.out, /bookinfo\s+bookinfo-gateway\s+10\.96\.\S+\s+80\/HTTP\s+True\s+http:\/\/10\.96/);
      const get = await meshctl([
        'get',
        'gateways.networking.istio.io',
        '-n',
        'bookinfo',
        '--config-dir',
        cfg,
      ]);
      assert.match(get.out, /bookinfo-gateway/);
      const gtw = await meshctl(['get', 'gtw', '-n', 'bookinfo', '--config-dir', cfg]);
      assert.doesNotMatch(gtw.out, /bookinfo-gateway/, 'no Gateway API Gateway of that name');
    });

    await t.test('productpage from the host over HBONE with the ingress identity; others 404', async () => {
      let r = { code: 0, body: '' };
      await waitFor(
        'productpage through the ingress gateway',
        async () => {
          r = await hostCurl(`${url}/productpage`);
          return r.code === 200 && reviewsOf(r.body) !== '';
        },
        60_000,
      );
      assert.match(r.body, /"servedBy": "productpage-v1-1"/);
      const nr = await hostCurl(`${url}/nothing-here`);
      assert.equal(nr.code, 404, 'no route in the VirtualService: 404 (NR)');
      const ppNode = cluster.pods.find((p) => p.deployment === 'productpage-v1')!.node;
      const n = cluster.nodes.find((x) => x.name === ppNode)!;
      const m = (
        await runCommand('ip', ['netns', 'exec', n.netns, 'curl', '-sS', `http://${n.ip}:15020/metrics`])
      ).stdout;
      assert.match(
        m,
        new RegExp(
          `istio_tcp_connections_opened_total\\{reporter="destination",[^}]*source_principal="${INGRESS_SA.replace(/[/.]/g, '\\$&')}"[^}]*destination_principal="spiffe:\\/\\/cluster\\.local\\/ns\\/bookinfo\\/sa\\/bookinfo-productpage"`,
        ),
      );
    });

    await t.test("Istio's routing task from the host: end-user jason sees reviews v2", async () => {
      const wp = await meshctl([
        'waypoint',
        'apply',
        '-n',
        'bookinfo',
        '--enroll-namespace',
        '--wait',
        '--timeout',
        '60',
        '--config-dir',
        cfg,
      ]);
      assert.equal(wp.code, 0, wp.out);
      await apply(
        'reviews-v2-for-jason.yaml',
        `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: bookinfo}
spec:
  host: reviews
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: bookinfo}
spec:
  hosts: [reviews]
  http:
  - match: [{headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - route: [{destination: {host: reviews, subset: v1}}]
`,
      );
      await cluster.restartDeployment('bookinfo', 'productpage-v1', () => undefined);
      let seen: string[] = [];
      let inRow = 0;
      await waitFor(
        'the route to apply',
        async () => {
          seen = [
            reviewsOf((await hostCurl(`${url}/productpage`, ['end-user: jason'])).body),
            reviewsOf((await hostCurl(`${url}/productpage`)).body),
          ];
          // Before the route, reviews answers from every version in turn: three rounds in a row rule out chance.
          inRow = seen.join() === 'reviews-v2-1,reviews-v1-1' ? inRow + 1 : 0;
          return inRow === 3;
        },
        60_000,
      ).catch((err: Error) => assert.fail(`${err.message}; last seen ${seen.join()}`));
    });

    await t.test('match[].gateways: one entry only at the gateway, one only in the mesh', async () => {
      await apply(
        'ratings-split.yaml',
        `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings-split, namespace: bookinfo}
spec:
  hosts: [ratings]
  gateways: [mesh, bookinfo-gateway]
  http:
  - match: [{uri: {prefix: /edge-only}, gateways: [bookinfo-gateway]}]
    directResponse: {status: 418, body: {string: edge}}
  - match: [{uri: {prefix: /mesh-only}, gateways: [mesh]}]
    directResponse: {status: 419, body: {string: mesh}}
  - route: [{destination: {host: ratings, port: {number: 9080}}}]
`,
      );
      const host = ['host: ratings.bookinfo.svc.cluster.local'];
      const curlPod = cluster.pods.find((p) => p.namespace === 'bookinfo' && p.deployment === 'curl')!;
      const fromMesh = async (path: string): Promise<number> => {
        const args = ['netns', 'exec', curlPod.netns, 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}'];
        try {
          return Number(
            (await runCommand('ip', [...args, '--max-time', '5', `http://ratings:9080${path}`])).stdout,
          );
        } catch {
          return 0;
        }
      };
      let seen: number[] = [];
      await waitFor(
        'the split routes at the gateway and at the waypoint',
        async () => {
          seen = [
            (await hostCurl(`${url}/edge-only`, host)).code,
            (await hostCurl(`${url}/mesh-only`, host)).code,
            await fromMesh('/mesh-only'),
            await fromMesh('/edge-only'),
          ];
          return seen.join() === '418,200,419,200';
        },
        60_000,
      ).catch((err: Error) =>
        assert.fail(
          `${err.message}; gateway /edge-only, /mesh-only, mesh /mesh-only, /edge-only: ${seen.join()}`,
        ),
      );
    });

    await t.test(
      'a VirtualService naming a missing Gateway: IST0101 from apply and in its status',
      async () => {
        const out = await apply(
          'vs-missing.yaml',
          `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings-edge, namespace: bookinfo}
spec:
  hosts: [ratings.example.com]
  gateways: [no-such-gateway]
  http: [{route: [{destination: {host: ratings, port: {number: 9080}}}]}]
`,
        );
        assert.match(
          out,
          /warning: \[IST0101\] \(VirtualService bookinfo\/ratings-edge\) Referenced gateway not found: "no-such-gateway"/,
        );
        await waitFor('the IST0101 status', async () => {
          const text = await readFile(join(cfg, 'virtualservice-bookinfo-ratings-edge.yaml'), 'utf8');
          const st = (parse(text) as { status?: { validationMessages?: { type?: { code?: string } }[] } })
            .status;
          return st?.validationMessages?.some((m) => m.type?.code === 'IST0101') ?? false;
        });
        assert.equal((await hostCurl(`${url}/`, ['host: ratings.example.com'])).code, 404);
      },
    );

    await t.test(
      'HTTPS (SIMPLE, credentialName in istio-system) and httpsRedirect from the host',
      async () => {
        const cert = webCert(['bookinfo.example.com']);
        const caFile = join(cfg, '..', 'classic-ca.pem');
        await writeFile(caFile, cert.caPem);
        await apply(
          'classic-https.yaml',
          `apiVersion: v1
kind: Secret
metadata: {name: bookinfo-cred, namespace: istio-system}
type: kubernetes.io/tls
stringData:
  tls.crt: ${JSON.stringify(cert.cert)}
  tls.key: ${JSON.stringify(cert.key)}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: bookinfo-gateway, namespace: bookinfo}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [bookinfo.example.com]
    tls: {httpsRedirect: true}
  - port: {number: 80, name: http-any, protocol: HTTP}
    hosts: ["*"]
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [bookinfo.example.com]
    tls: {mode: SIMPLE, credentialName: bookinfo-cred}
`,
        );
        const vip = url.slice('http://'.length);
        let last = { code: 0, body: '' };
        await waitFor(
          'productpage over HTTPS',
          async () => {
            last = await hostCurl(
              'https://bookinfo.example.com/productpage',
              [],
              ['--cacert', caFile, '--resolve', `bookinfo.example.com:443:${vip}`],
            );
            return last.code === 200 && reviewsOf(last.body) !== '';
          },
          60_000,
        ).catch((err: Error) => assert.fail(`${err.message}; last ${last.code} ${last.body}`));
        const redirect = await runCommand('curl', [
          '-sS',
          '-o',
          '/dev/null',
          '-w',
          '%{http_code} %{redirect_url}',
          '-H',
          'host: bookinfo.example.com',
          `${url}/productpage`,
        ]);
        assert.equal(redirect.stdout, '301 https://bookinfo.example.com/productpage');
        assert.equal((await hostCurl(`${url}/productpage`)).code, 200, 'other hosts stay on plain HTTP');
      },
    );

    await t.test(
      'MUTUAL: a client certificate from the CA is required; the app sees it forwarded',
      async () => {
        const server = webCert(['echo.example.com']);
        const clients = createRootCa({ commonName: 'echo clients CA' });
        const client = webCert(['client.example.org'], clients);
        const stranger = webCert(['client.example.org']);
        const dir = join(cfg, '..');
        await writeFile(join(dir, 'echo-ca.pem'), server.caPem);
        for (const [name, c] of [
          ['good', client],
          ['bad', stranger],
        ] as const) {
          await writeFile(join(dir, `${name}-client.pem`), c.cert);
          await writeFile(join(dir, `${name}-client.key`), c.key);
        }
        await apply(
          'echo-mtls.yaml',
          `${tlsSecretYaml('echo-cred', 'istio-system', server)}---
apiVersion: v1
kind: Secret
metadata: {name: echo-cred-cacert, namespace: istio-system}
stringData:
  ca.crt: ${JSON.stringify(clients.certPem)}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: echo-mtls, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 9443, name: https-mtls, protocol: HTTPS}
    hosts: [echo.example.com]
    tls: {mode: MUTUAL, credentialName: echo-cred}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo-edge, namespace: default}
spec:
  hosts: [echo.example.com]
  gateways: [echo-mtls]
  http: [{route: [{destination: {host: echo, port: {number: 8080}}}]}]
`,
        );
        const vip = url.slice('http://'.length);
        const mtlsCurl = (who?: 'good' | 'bad') =>
          hostCurl(
            'https://echo.example.com:9443/headers',
            ['x-forwarded-client-cert: forged'],
            [
              '--cacert',
              join(dir, 'echo-ca.pem'),
              '--resolve',
              `echo.example.com:9443:${vip}`,
              ...(who
                ? ['--cert', join(dir, `${who}-client.pem`), '--key', join(dir, `${who}-client.key`)]
                : []),
            ],
          );
        let last = { code: 0, body: '' };
        await waitFor(
          'echo over mutual TLS',
          async () => {
            last = await mtlsCurl('good');
            return last.code === 200;
          },
          60_000,
        ).catch((err: Error) => assert.fail(`${err.message}; last ${last.code} ${last.body}`));
        const seen = (JSON.parse(last.body) as { headers: Record<string, string> }).headers;
        assert.equal(seen['x-forwarded-proto'], 'https');
        assert.match(
          seen['x-forwarded-client-cert'] ?? '',
          /^Hash=[0-9a-f]{64};Subject="CN=client\.example\.org";DNS=client\.example\.org$/,
        );
        assert.equal((await mtlsCurl()).code, 0, 'no client certificate: the handshake fails');
        assert.equal((await mtlsCurl('bad')).code, 0, 'a certificate of another CA: the handshake fails');
        const del = await meshctl(['delete', '-f', join(dir, 'echo-mtls.yaml'), '--config-dir', cfg]);
        assert.equal(del.code, 0, del.out);
      },
    );

    await t.test(
      'PASSTHROUGH: TLS goes through undecrypted, routed by SNI to the app that ends it',
      async () => {
        const dir = join(cfg, '..');
        const app = await httpsEchoApp(dir, 'default', 'secure.example.com');
        const file = await apply(
          'passthrough.yaml',
          `${app.yaml}---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: passthrough, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 8444, name: tls, protocol: TLS}
    hosts: [secure.example.com, other.example.com]
    tls: {mode: PASSTHROUGH}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: secure, namespace: default}
spec:
  hosts: [secure.example.com]
  gateways: [passthrough]
  tls:
  - match: [{port: 8444, sniHosts: [secure.example.com]}]
    route: [{destination: {host: secure, port: {number: 8443}}}]
`,
        );
        assert.match(file, /virtualservice.networking.istio.io\/secure created/);
        const vip = url.slice('http://'.length);
        const tlsCurl = (host: string) =>
          hostCurl(
            `https://${host}:8444/headers`,
            [],
            ['--cacert', app.caFile, '--resolve', `${host}:8444:${vip}`],
          );
        let last = { code: 0, body: '' };
        await waitFor(
          'the app over passthrough TLS',
          async () => {
            last = await tlsCurl('secure.example.com');
            return last.code === 200;
          },
          60_000,
        ).catch((err: Error) => assert.fail(`${err.message}; last ${last.code} ${last.body}`));
        const seen = JSON.parse(last.body) as { headers: Record<string, string> };
        // The app ended TLS with its own certificate; the gateway did not touch the HTTP inside.
        assert.equal(seen.headers['x-forwarded-proto'], undefined);
        assert.equal(seen.headers['x-request-id'], undefined);
        assert.equal((await tlsCurl('other.example.com')).code, 0, 'a server name without a route is closed');
        const del = await meshctl(['delete', '-f', join(dir, 'passthrough.yaml'), '--config-dir', cfg]);
        assert.equal(del.code, 0, del.out);
      },
    );

    await t.test('deleting the Gateway removes istio-ingressgateway and its token', async () => {
      const del = await meshctl([
        'delete',
        'gateways.networking.istio.io',
        'bookinfo-gateway',
        '-n',
        'bookinfo',
        '--config-dir',
        cfg,
      ]);
      assert.equal(del.code, 0, del.out);
      await waitFor('the ingress pod to go', () => !cluster.pods.some((p) => p.namespace === 'istio-system'));
      const tokens = JSON.parse(await readFile(join(cfg, '..', 'node-tokens.json'), 'utf8')) as {
        tokens: { node: string }[];
      };
      assert.ok(!tokens.tokens.some((r) => r.node === 'gateway/istio-system/istio-ingressgateway'));
      await waitFor('IST0101 on the bookinfo VirtualService, whose Gateway is gone', async () =>
        (await readFile(join(cfg, 'virtualservice-bookinfo-bookinfo.yaml'), 'utf8')).includes('IST0101'),
      );
    });
  },
);
