/**
 * L7 security and resilience on Bookinfo through its namespace waypoint (root, network namespaces):
 * AuthorizationPolicies (DENY DELETE on reviews for the curl identity, a path-prefix ALLOW and a
 * `when` on a header for ratings), RequestAuthentication with a JWKS this test makes (no token, bad,
 * good, wrong audience, then a policy requiring a request principal), a connection-pool limit giving
 * UO under a burst, and an always-failing reviews pod ejected by outlier detection, then returned.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { runCommand } from '../../../src/local/netns/index.js';
import { skip, meshctl, startCluster, waitFor } from './harness.js';

const NAME = `mls${process.pid % 100000}`;
const ISS = 'https://auth.bookinfo.test';

const BROKEN_REVIEWS = `apiVersion: apps/v1
kind: Deployment
metadata: {name: reviews-v4, namespace: bookinfo, labels: {app: reviews, version: v4}}
spec:
  replicas: 1
  selector: {matchLabels: {app: reviews, version: v4}}
  template:
    metadata: {labels: {app: reviews, version: v4}}
    spec:
      serviceAccountName: bookinfo-reviews
      containers:
      - name: reviews
        image: meshlite/bookinfo
        command: [node, '$(MESHLITE_DIST)/local/apps/bookinfo-main.js', --role, reviews, --version, v4, --fail-status, '500']
        ports: [{containerPort: 9080}]
`;

test(
  'Bookinfo: authorization, JWT, connection pool and outlier detection at the waypoint',
  { skip, timeout: 240_000 },
  async (t) => {
    const cluster = await startCluster(t, NAME, ['deploy/samples/bookinfo.yaml']);
    const cfg = cluster.dirs.config;
    await writeFile(join(cfg, 'reviews-v4.yaml'), BROKEN_REVIEWS);
    const curlPod = cluster.pods.find((p) => p.namespace === 'bookinfo' && p.deployment === 'curl')!;
    /** curl from the curl pod: status code (and body). */
    const curl = async (url: string, args: string[] = []): Promise<{ code: number; body: string }> => {
      const r = await runCommand('ip', [
        'netns',
        'exec',
        curlPod.netns,
        'curl',
        '-sS',
        '--max-time',
        '5',
        '-w',
        '\n%{http_code}',
        ...args,
        url,
      ]).catch(() => ({ stdout: '\n0', stderr: '' }));
      const i = r.stdout.lastIndexOf('\n');
      return { code: Number(r.stdout.slice(i + 1)), body: r.stdout.slice(0, i) };
    };
    const wp = await meshctl([
      'waypoint',
      'apply',
      '-n',
      'bookinfo',
      '--enroll-namespace',
      '--wait',
      '--config-dir',
      cfg,
    ]);
    assert.equal(wp.code, 0, wp.out);

    const kp = await generateKeyPair('RS256');
    const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(kp.publicKey)), kid: 'e2e', alg: 'RS256' }] });
    const token = (claims: Record<string, unknown> = {}, key = kp.privateKey): Promise<string> =>
      new SignJWT({ sub: 'jason', aud: 'bookinfo', ...claims })
        .setProtectedHeader({ alg: 'RS256', kid: 'e2e' })
        .setIssuer(ISS)
        .setExpirationTime('10m')
        .sign(key);

    await writeFile(
      join(cfg, 'security.yaml'),
      `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: reviews-no-delete, namespace: bookinfo}
spec:
  targetRefs: [{kind: Service, group: "", name: reviews}]
  action: DENY
  rules:
  - from: [{source: {principals: [cluster.local/ns/bookinfo/sa/curl]}}]
    to: [{operation: {methods: [DELETE]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ratings-paths, namespace: bookinfo}
spec:
  targetRefs: [{kind: Service, group: "", name: ratings}]
  rules: [{to: [{operation: {paths: [/ratings/*]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ratings-no-debug, namespace: bookinfo}
spec:
  targetRefs: [{kind: Service, group: "", name: ratings}]
  action: DENY
  rules: [{when: [{key: "request.headers[x-debug]", values: ["true"]}]}]
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: details-jwt, namespace: bookinfo}
spec:
  targetRefs: [{kind: Service, group: "", name: details}]
  jwtRules:
  - issuer: ${ISS}
    audiences: [bookinfo]
    jwks: '${jwks}'
    outputClaimToHeaders: [{header: x-jwt-sub, claim: sub}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings, namespace: bookinfo}
spec:
  host: ratings
  trafficPolicy:
    connectionPool: {tcp: {maxConnections: 1}, http: {http1MaxPendingRequests: 1}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: bookinfo}
spec:
  host: reviews
  trafficPolicy:
    outlierDetection: {consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 8s, maxEjectionPercent: 50}
`,
    );

    await t.test('AuthorizationPolicy: DELETE on reviews 403 for curl, GET 200', async () => {
      await waitFor(
        'the DELETE denial',
        async () => (await curl('http://reviews:9080/reviews/0', ['-X', 'DELETE'])).code === 403,
        60_000,
      );
      const del = await curl('http://reviews:9080/reviews/0', ['-X', 'DELETE']);
      assert.equal(del.body, 'RBAC: access denied');
      await waitFor('a GET on reviews to answer', async () =>
        [200, 500].includes((await curl('http://reviews:9080/reviews/0')).code),
      );
    });

    await t.test('a path-prefix ALLOW and a when on a request header on ratings', async () => {
      assert.equal((await curl('http://ratings:9080/ratings/0')).code, 200);
      const other = await curl('http://ratings:9080/admin');
      assert.equal(other.code, 403);
      assert.equal(other.body, 'RBAC: access denied');
      assert.equal((await curl('http://ratings:9080/ratings/0', ['-H', 'x-debug: true'])).code, 403);
      assert.equal((await curl('http://ratings:9080/ratings/0', ['-H', 'x-debug: false'])).code, 200);
    });

    await t.test(
      'RequestAuthentication on details: no token 200, bad 401, good 200, wrong audience 403',
      async () => {
        const good = await token();
        assert.equal((await curl('http://details:9080/details/0')).code, 200);
        const bad = await curl('http://details:9080/details/0', [
          '-H',
          `authorization: Bearer ${good.slice(0, -6)}AAAAAA`,
        ]);
        assert.equal(bad.code, 401);
        assert.equal(bad.body, 'Jwt verification fails');
        assert.equal(
          (await curl('http://details:9080/details/0', ['-H', `authorization: Bearer ${good}`])).code,
          200,
        );
        const aud = await curl('http://details:9080/details/0', [
          '-H',
          `authorization: Bearer ${await token({ aud: 'other' })}`,
        ]);
        assert.equal(aud.code, 403);
        assert.equal(aud.body, 'Audiences in Jwt are not allowed');
        await writeFile(
          join(cfg, 'details-require-jwt.yaml'),
          `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: details-require-jwt, namespace: bookinfo}
spec:
  targetRefs: [{kind: Service, group: "", name: details}]
  rules: [{from: [{source: {requestPrincipals: ["${ISS}/*"]}}]}]
`,
        );
        await waitFor(
          'no token to get 403',
          async () => (await curl('http://details:9080/details/0')).code === 403,
        );
        // The local cluster writes the policy's status, as Istio does.
        await waitFor('the policy status', async () =>
          /type: WaypointAccepted\s+status: "True"/.test(
            await readFile(join(cfg, 'details-require-jwt.yaml'), 'utf8'),
          ),
        );
        assert.equal(
          (await curl('http://details:9080/details/0', ['-H', `authorization: Bearer ${good}`])).code,
          200,
        );
      },
    );

    await t.test(
      'connectionPool on ratings: a burst of 8 slow requests gets 503 UO for those over the limit',
      async () => {
        const urls = Array.from({ length: 8 }, () => 'http://ratings:9080/ratings/0?delay=1500');
        const r = await runCommand('ip', [
          'netns',
          'exec',
          curlPod.netns,
          'curl',
          '-s',
          '--max-time',
          '10',
          '--parallel',
          '--parallel-immediate',
          '--parallel-max',
          '8',
          '-w',
          '%{http_code} %header{x-envoy-overloaded}\n',
          ...urls.flatMap((u) => ['-o', '/dev/null', u]),
        ]).catch((e: Error) => ({ stdout: '', stderr: e.message }));
        const lines = r.stdout.trim().split('\n');
        t.diagnostic(`burst of 8: ${lines.join(' | ')}`);
        assert.equal(lines.length, 8, r.stdout + r.stderr);
        const overflow = lines.filter((l) => l === '503 true').length;
        const ok = lines.filter((l) => l.startsWith('200')).length;
        assert.equal(ok + overflow, 8, r.stdout);
        assert.ok(overflow >= 5 && ok >= 2, `1 in flight + 1 pending served, the rest UO: ${r.stdout}`);
        const wpPod = cluster.pods.find((p) => p.namespace === 'bookinfo' && p.name.startsWith('waypoint'))!;
        const metrics = (
          await runCommand('ip', [
            'netns',
            'exec',
            wpPod.netns,
            'curl',
            '-sS',
            `http://${wpPod.ip}:15020/metrics`,
          ])
        ).stdout;
        assert.match(
          metrics,
          /istio_requests_total\{[^}]*destination_service="ratings\.bookinfo\.svc\.cluster\.local"[^}]*response_code="503"[^}]*response_flags="UO"/,
        );
      },
    );

    await t.test(
      'outlierDetection on reviews: the failing v4 pod is ejected, traffic flows to the others, then it returns',
      async () => {
        const v4 = cluster.pods.find((p) => p.name.startsWith('reviews-v4'))!;
        const endpoints = async (): Promise<string> => {
          const r = await meshctl([
            'waypoint',
            'endpoints',
            'waypoint',
            '-n',
            'bookinfo',
            '--config-dir',
            cfg,
          ]);
          assert.equal(r.code, 0, r.out);
          return r.out;
        };
        const v4Row = (out: string): string =>
          out.split('\n').find((l) => l.startsWith(`${v4.ip}:9080`) && l.includes('|http|reviews')) ?? '';
        // The table that first shows the ejection is the one checked (a later call may come after it ended).
        let table = '';
        await waitFor(
          'the failing reviews pod to be ejected',
          async () => {
            await curl('http://reviews:9080/reviews/0');
            table = await endpoints();
            return v4Row(table).includes('EJECTED');
          },
          60_000,
        );
        t.diagnostic(
          table
            .split('\n')
            .filter((l) => l.includes('|http|reviews') || l.startsWith('ENDPOINT'))
            .join('\n'),
        );
        assert.match(v4Row(table), /EJECTED\s+consecutive_5xx/);
        let failures = 0;
        for (let i = 0; i < 10; i++)
          if ((await curl('http://reviews:9080/reviews/0')).code !== 200) failures++;
        const stillEjected = v4Row(await endpoints()).includes('EJECTED');
        if (stillEjected)
          assert.equal(failures, 0, 'while v4 is out, every request is served by a healthy pod');
        await waitFor(
          'v4 to return after its ejection time',
          async () => v4Row(await endpoints()).includes('HEALTHY'),
          30_000,
        );
        await waitFor(
          'v4 to get traffic again',
          async () => (await curl('http://reviews:9080/reviews/0')).code === 500,
          30_000,
        );
        const wpPod = cluster.pods.find((p) => p.namespace === 'bookinfo' && p.name.startsWith('waypoint'))!;
        const metrics = (
          await runCommand('ip', [
            'netns',
            'exec',
            wpPod.netns,
            'curl',
            '-sS',
            `http://${wpPod.ip}:15020/metrics`,
          ])
        ).stdout;
        assert.match(
          metrics,
          /envoy_cluster_outlier_detection_ejections_enforced_total\{cluster_name="inbound-vip\|9080\|http\|reviews\.bookinfo\.svc\.cluster\.local",reason="consecutive_5xx"\} [1-9]/,
        );
      },
    );
  },
);
