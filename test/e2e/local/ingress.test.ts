/**
 * The ingress gateway end to end (root): Bookinfo with a Gateway of class istio and an HTTPRoute
 * (deploy/samples/bookinfo-gateway.yaml). The cluster runs the gateway pod and publishes its address;
 * the host curls $GATEWAY_URL/productpage through the cluster's host routes; the gateway reaches
 * productpage over HBONE with its own identity (no plaintext past the edge); Istio's routing task
 * (end-user jason → reviews v2) works from the host; route status names the Gateway's verdict; an
 * HTTPS listener terminates TLS with its Secret (HTTP/1.1 and HTTP/2 by ALPN); with
 * istio.io/ingress-use-waypoint the gateway goes
 * through the waypoint.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { runCommand } from '../../../src/local/netns/index.js';
import { httpsEchoApp, tlsSecretYaml, webCert } from '../../fixtures/web-cert.js';
import { skip, sleep, waitFor, meshctl, startCluster } from './harness.js';

const NAME = `mli${process.pid % 100000}`;

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
  'ingress gateway: Bookinfo from the host, HBONE behind it, routing, ingress-use-waypoint',
  { skip, timeout: 240_000 },
  async (t) => {
    const cluster = await startCluster(t, NAME, [
      'deploy/samples/bookinfo.yaml',
      'deploy/samples/bookinfo-gateway.yaml',
    ]);
    const cfg = cluster.dirs.config;
    let url = '';

    await t.test('the gateway pod runs, the Gateway is programmed, meshctl prints $GATEWAY_URL', async () => {
      await waitFor(
        'the Gateway to be programmed with an address',
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
          if (r.code !== 0) return false;
          const list = await meshctl(['gateway', 'list', '-n', 'bookinfo', '--config-dir', cfg]);
          if (!/True/.test(list.out)) return false;
          url = r.out.trim();
          return true;
        },
        60_000,
      );
      assert.match(url, /^http:\/\/10\.96\.\d+\.\d+$/);
      const gwPod = cluster.pods.find((p) => p.name === 'bookinfo-gateway-istio-1')!;
      assert.equal(gwPod.spec.serviceAccountName, 'bookinfo-gateway-istio');
      assert.ok(!gwPod.spec.sidecar);
      // The host reaches the address through the cluster's routes (never its default route).
      const route = (await runCommand('ip', ['route', 'get', url.slice('http://'.length)])).stdout;
      assert.match(route, /via 10\.244\.255\.\d+/);
    });

    await t.test('productpage from the host; an unrouted path is 404', async () => {
      let r = { code: 0, body: '' };
      await waitFor(
        'productpage through the gateway',
        async () => {
          r = await hostCurl(`${url}/productpage`);
          return r.code === 200 && reviewsOf(r.body) !== '';
        },
        60_000,
      );
      assert.match(r.body, /"servedBy": "productpage-v1-1"/);
      assert.equal((await hostCurl(`${url}/nothing-here`)).code, 404);
      const ppNode = cluster.pods.find((p) => p.deployment === 'productpage-v1')!.node;
      const n = cluster.nodes.find((x) => x.name === ppNode)!;
      const m = (
        await runCommand('ip', ['netns', 'exec', n.netns, 'curl', '-sS', `http://${n.ip}:15020/metrics`])
      ).stdout;
      assert.match(
        m,
        /istio_tcp_connections_opened_total\{reporter="destination",[^}]*source_principal="spiffe:\/\/cluster\.local\/ns\/bookinfo\/sa\/bookinfo-gateway-istio"[^}]*destination_principal="spiffe:\/\/cluster\.local\/ns\/bookinfo\/sa\/bookinfo-productpage"/,
      );
    });

    await t.test(
      'route and listener status: accepted by its Gateway; a route the listener refuses says why',
      async () => {
        type Parent = {
          parentRef: { name: string };
          controllerName: string;
          conditions: Array<Record<string, string>>;
        };
        const parentsOf = async (file: string): Promise<Parent[]> => {
          try {
            const o = parse(await readFile(join(cfg, file), 'utf8')) as { status?: { parents?: Parent[] } };
            return o.status?.parents ?? [];
          } catch {
            return [];
          }
        };
        const accepted = (ps: Parent[]) =>
          ps
            .find((p) => p.parentRef.name === 'bookinfo-gateway')
            ?.conditions.find((c) => c.type === 'Accepted');
        await waitFor(
          'the route status',
          async () => accepted(await parentsOf('httproute-bookinfo-bookinfo.yaml'))?.status === 'True',
        );
        const [p] = await parentsOf('httproute-bookinfo-bookinfo.yaml');
        assert.equal(p!.controllerName, 'istio.io/gateway-controller');
        assert.deepEqual(
          p!.conditions.map((c) => [c.type, c.status]),
          [
            ['Accepted', 'True'],
            ['ResolvedRefs', 'True'],
          ],
        );
        // A route from another namespace: the listener allows routes of its own namespace only (Same).
        const file = join(cfg, '..', 'route-from-default.yaml');
        await writeFile(
          file,
          `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: elsewhere, namespace: default}
spec:
  parentRefs: [{name: bookinfo-gateway, namespace: bookinfo}]
  rules: [{backendRefs: [{name: kubernetes, port: 443}]}]
`,
        );
        const ap = await meshctl(['apply', '-f', file, '--config-dir', cfg]);
        assert.equal(ap.code, 0, ap.out);
        let refused: Record<string, string> | undefined;
        await waitFor('the refusal in the status', async () => {
          refused = accepted(await parentsOf('httproute-default-elsewhere.yaml'));
          return refused?.status === 'False';
        });
        assert.equal(refused!.reason, 'NotAllowedByListeners');
        assert.match(refused!.message ?? '', /do not allow routes from namespace default/);
        // The Gateway's listener counts the route it took, not the refused one.
        type Listener = { attachedRoutes: number; conditions: Array<{ type: string; status: string }> };
        const gw = parse(await readFile(join(cfg, 'gateway-bookinfo-bookinfo-gateway.yaml'), 'utf8')) as {
          status?: { listeners?: Listener[] };
        };
        const l = gw.status?.listeners?.[0];
        assert.equal(l?.attachedRoutes, 1);
        assert.deepEqual(
          l?.conditions.map((c) => `${c.type}=${c.status}`),
          ['Accepted=True', 'Programmed=True', 'ResolvedRefs=True'],
        );
      },
    );

    await t.test(
      'HTTPS: a listener terminates TLS with its Secret; a missing Secret is reported',
      async () => {
        const cert = webCert(['bookinfo.example.com']);
        const caFile = join(cfg, '..', 'bookinfo-ca.pem');
        await writeFile(caFile, cert.caPem);
        const file = join(cfg, '..', 'bookinfo-https.yaml');
        await writeFile(
          file,
          `${tlsSecretYaml('bookinfo-cert', 'bookinfo', cert)}---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: bookinfo-gateway, namespace: bookinfo}
spec:
  gatewayClassName: istio
  listeners:
  - {name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: Same}}}
  - name: https
    port: 443
    protocol: HTTPS
    hostname: bookinfo.example.com
    tls: {mode: Terminate, certificateRefs: [{name: bookinfo-cert}]}
  - name: https-missing
    port: 8443
    protocol: HTTPS
    tls: {certificateRefs: [{name: no-such-cert}]}
`,
        );
        const ap = await meshctl(['apply', '-f', file, '--config-dir', cfg]);
        assert.equal(ap.code, 0, ap.out);
        const vip = url.slice('http://'.length);
        const httpsCurl = (path: string) =>
          hostCurl(
            `https://bookinfo.example.com${path}`,
            [],
            ['--cacert', caFile, '--resolve', `bookinfo.example.com:443:${vip}`],
          );
        let last = { code: 0, body: '' };
        await waitFor(
          'productpage over HTTPS',
          async () => {
            last = await httpsCurl('/productpage');
            return last.code === 200 && reviewsOf(last.body) !== '';
          },
          60_000,
        ).catch((err: Error) => assert.fail(`${err.message}; last ${last.code} ${last.body}`));
        assert.equal((await hostCurl(`${url}/productpage`)).code, 200, 'plain HTTP still served on 80');
        // HTTP/2 by ALPN.
        const h2 = await runCommand('curl', [
          '-sS',
          '--http2',
          '-o',
          '/dev/null',
          '-w',
          '%{http_version}',
          '--cacert',
          caFile,
          '--resolve',
          `bookinfo.example.com:443:${vip}`,
          'https://bookinfo.example.com/productpage',
        ]);
        assert.equal(h2.stdout, '2');
        type Listener = {
          name: string;
          attachedRoutes: number;
          conditions: Array<{ type: string; status: string; reason: string }>;
        };
        let listeners: Listener[] = [];
        await waitFor('the listener status', async () => {
          const gw = parse(await readFile(join(cfg, 'gateway-bookinfo-bookinfo-gateway.yaml'), 'utf8')) as {
            status?: { listeners?: Listener[] };
          };
          listeners = gw.status?.listeners ?? [];
          return listeners.length === 3;
        });
        const conds = (name: string) =>
          listeners.find((l) => l.name === name)?.conditions.map((c) => `${c.type}=${c.status}/${c.reason}`);
        assert.deepEqual(conds('https'), [
          'Accepted=True/Accepted',
          'Programmed=True/Programmed',
          'ResolvedRefs=True/ResolvedRefs',
        ]);
        assert.equal(listeners.find((l) => l.name === 'https')?.attachedRoutes, 1);
        assert.deepEqual(conds('https-missing'), [
          'Accepted=True/Accepted',
          'Programmed=False/Invalid',
          'ResolvedRefs=False/InvalidCertificateRef',
        ]);
        const list = await meshctl(['gateway', 'list', '-n', 'bookinfo', '--config-dir', cfg]);
        assert.match(list.out, /80\/HTTP,443\/HTTPS,8443\/HTTPS/);
      },
    );

    await t.test('TLS Passthrough: a TLSRoute sends TLS by server name to the app that ends it', async () => {
      const dir = join(cfg, '..');
      const app = await httpsEchoApp(dir, 'bookinfo', 'secure.example.com');
      const gw = parse(await readFile(join(cfg, 'gateway-bookinfo-bookinfo-gateway.yaml'), 'utf8')) as {
        spec: { listeners: unknown[] };
      };
      const file = join(dir, 'passthrough.yaml');
      await writeFile(
        file,
        `${app.yaml}---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: bookinfo-gateway, namespace: bookinfo}
spec:
  gatewayClassName: istio
  listeners: ${JSON.stringify([
    ...gw.spec.listeners,
    {
      name: 'tls-pass',
      port: 8444,
      protocol: 'TLS',
      hostname: 'secure.example.com',
      tls: { mode: 'Passthrough' },
    },
  ])}
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TLSRoute
metadata: {name: secure, namespace: bookinfo}
spec:
  parentRefs: [{name: bookinfo-gateway, sectionName: tls-pass}]
  rules: [{backendRefs: [{name: secure, port: 8443}]}]
`,
      );
      const ap = await meshctl(['apply', '-f', file, '--config-dir', cfg]);
      assert.equal(ap.code, 0, ap.out);
      const vip = url.slice('http://'.length);
      let last = { code: 0, body: '' };
      await waitFor(
        'the app over passthrough TLS',
        async () => {
          last = await hostCurl(
            'https://secure.example.com:8444/headers',
            [],
            ['--cacert', app.caFile, '--resolve', `secure.example.com:8444:${vip}`],
          );
          return last.code === 200;
        },
        60_000,
      ).catch((err: Error) => assert.fail(`${err.message}; last ${last.code} ${last.body}`));
      const seen = JSON.parse(last.body) as { headers: Record<string, string> };
      assert.equal(seen.headers['x-forwarded-proto'], undefined, 'the gateway did not end TLS');
      type Listener = { name: string; attachedRoutes: number; supportedKinds: Array<{ kind: string }> };
      let tlsListener: Listener | undefined;
      await waitFor('the TLS listener status', async () => {
        const o = parse(await readFile(join(cfg, 'gateway-bookinfo-bookinfo-gateway.yaml'), 'utf8')) as {
          status?: { listeners?: Listener[] };
        };
        tlsListener = o.status?.listeners?.find((l) => l.name === 'tls-pass');
        return tlsListener?.attachedRoutes === 1;
      });
      assert.deepEqual(
        tlsListener!.supportedKinds.map((k) => k.kind),
        ['TLSRoute'],
      );
      await waitFor('the TLSRoute accepted', async () => {
        const o = parse(
          await readFile(join(cfg, 'tlsroute-bookinfo-secure.yaml'), 'utf8').catch(() => '{}'),
        ) as {
          status?: { parents?: Array<{ conditions: Array<{ type: string; status: string }> }> };
        };
        return (
          o.status?.parents?.[0]?.conditions.some((c) => c.type === 'Accepted' && c.status === 'True') ??
          false
        );
      });
    });

    await t.test('behind the edge nothing is plaintext: the marker is only on port 80', async () => {
      const dumps = cluster.nodes.map((n) =>
        spawn(
          'ip',
          ['netns', 'exec', n.netns, 'tcpdump', '-i', 'eth0', '-A', '-l', '-n', 'tcp and not port 80'],
          {
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        ),
      );
      let text = '';
      let started = 0;
      for (const d of dumps) {
        d.stdout.on('data', (b: Buffer) => (text += b.toString('latin1')));
        d.stderr.on('data', (b: Buffer) => {
          if (b.toString().includes('listening')) started++;
        });
      }
      await waitFor('tcpdump start', () => started === dumps.length, 5000);
      const marker = `ingresssecret${process.pid}`;
      const r = await hostCurl(`${url}/productpage`, [`end-user: ${marker}`]);
      assert.equal(r.code, 200, r.body);
      assert.ok(r.body.includes(marker), 'productpage saw the header');
      await sleep(500);
      for (const d of dumps) d.kill('SIGTERM');
      await Promise.all(dumps.map((d) => new Promise((res) => d.once('exit', res))));
      assert.ok(text.includes('.15008'), 'HBONE on the node links');
      assert.ok(
        !text.includes(marker),
        'the header must not cross a node link in plaintext past the gateway',
      );
    });

    await t.test('an AuthorizationPolicy on the Gateway (targetRefs) is enforced at the edge', async () => {
      const file = join(cfg, 'authorizationpolicy-bookinfo-edge.yaml');
      await writeFile(
        file,
        `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: edge-no-reviews-api, namespace: bookinfo}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: bookinfo-gateway}]
  action: DENY
  rules: [{to: [{operation: {paths: ["/api/v1/products/{*}/reviews"]}}]}]
`,
      );
      let last = { code: 0, body: '' };
      await waitFor(
        'the gateway to deny the reviews API',
        async () => {
          last = await hostCurl(`${url}/api/v1/products/1/reviews`);
          return last.code === 403;
        },
        30_000,
      ).catch((err: Error) => assert.fail(`${err.message}; last ${last.code} ${last.body}`));
      assert.equal(last.body, 'RBAC: access denied');
      assert.equal((await hostCurl(`${url}/productpage`)).code, 200, 'other paths still pass');
      const status = await readFile(file, 'utf8');
      assert.match(status, /bound to Gateway bookinfo-gateway/);
      await rm(file);
      await waitFor(
        'the deny to be lifted',
        async () => (await hostCurl(`${url}/api/v1/products/1/reviews`)).code === 200,
        30_000,
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
      await writeFile(
        join(cfg, 'destinationrule-bookinfo-reviews.yaml'),
        `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: bookinfo}
spec:
  host: reviews
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}, {name: v3, labels: {version: v3}}]
`,
      );
      await writeFile(
        join(cfg, 'virtualservice-bookinfo-reviews.yaml'),
        `apiVersion: networking.istio.io/v1
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
      // productpage keeps its connections to reviews alive, and an open connection keeps its path (as in
      // Istio): restart it so its calls to reviews start through the waypoint.
      await cluster.restartDeployment('bookinfo', 'productpage-v1', () => undefined);
      // Until ztunnels send reviews through the waypoint, a request may reach any version directly.
      let seen: string[] = [];
      let inRow = 0;
      await waitFor(
        'the route to apply',
        async () => {
          seen = [
            reviewsOf((await hostCurl(`${url}/productpage`, ['end-user: jason'])).body),
            reviewsOf((await hostCurl(`${url}/productpage`)).body),
            reviewsOf((await hostCurl(`${url}/productpage`)).body),
          ];
          // Before the route, reviews answers from every version in turn: three rounds in a row rule out chance.
          inRow = seen.join() === 'reviews-v2-1,reviews-v1-1,reviews-v1-1' ? inRow + 1 : 0;
          return inRow === 3;
        },
        60_000,
      ).catch((err: Error) => assert.fail(`${err.message}; last seen ${seen.join()}`));
      for (let i = 0; i < 5; i++) {
        assert.equal(
          reviewsOf((await hostCurl(`${url}/productpage`, ['end-user: jason'])).body),
          'reviews-v2-1',
        );
        assert.equal(reviewsOf((await hostCurl(`${url}/productpage`)).body), 'reviews-v1-1');
      }
    });

    await t.test('istio.io/ingress-use-waypoint: the gateway goes through the waypoint', async () => {
      const r = await meshctl([
        'label',
        'service',
        'productpage',
        '-n',
        'bookinfo',
        'istio.io/ingress-use-waypoint=true',
        '--config-dir',
        cfg,
      ]);
      assert.equal(r.code, 0, r.out);
      await waitFor(
        'the waypoint to log a request from the gateway',
        async () => {
          await hostCurl(`${url}/productpage?via=waypoint`);
          const log = await readFile(join(cluster.dirs.logs, 'pod-bookinfo-waypoint-1.log'), 'utf8').catch(
            () => '',
          );
          return log
            .split('\n')
            .some(
              (l) =>
                l.includes('"path":"/productpage?via=waypoint"') &&
                l.includes(
                  '"source_principal":"spiffe://cluster.local/ns/bookinfo/sa/bookinfo-gateway-istio"',
                ),
            );
        },
        60_000,
      );
    });
  },
);
