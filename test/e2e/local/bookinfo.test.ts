/**
 * Bookinfo through a waypoint (root): the walkthrough of docs/waypoint.md — a namespace waypoint,
 * subsets, `end-user: jason` to reviews v2 (which calls ratings through the waypoint too, with the
 * header forwarded), everyone else to v1, an abort on ratings for jason only; then Istio's traffic
 * tasks measured: a 90/10 split over 1,000 requests, delay and abort percentages, a mirror to v2,
 * retries over a details that fails every other request (`--fail-every 2`), a timeout, header changes,
 * trace context, and the waypoint's metrics and access log for exactly the traffic sent. Requests go
 * in batches, one curl per batch (a URL range), inside the curl pod.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from '../../../src/local/netns/index.js';
import { skip, sleep, meshctl, startCluster, waitFor } from './harness.js';

const NAME = `mlb${process.pid % 100000}`;

interface Page {
  user: string | null;
  reviews: { servedBy?: string; ratings?: { servedBy?: string; error?: string } };
}

test(
  'Bookinfo: jason to reviews v2 (→ ratings), others to v1, an abort for jason; then the traffic tasks measured',
  { skip, timeout: 300_000 },
  async (t) => {
    // details fails every other request, for the retry task (the sample app's documented knob).
    const cluster = await startCluster(t, NAME, ['deploy/samples/bookinfo.yaml'], (_f, text) =>
      text.replace('--role, details, --version, v1]', "--role, details, --version, v1, --fail-every, '2']"),
    );
    const cfg = cluster.dirs.config;
    const curlPod = cluster.pods.find((p) => p.namespace === 'bookinfo' && p.deployment === 'curl')!;
    const page = async (user?: string): Promise<Page | undefined> => {
      const args = ['netns', 'exec', curlPod.netns, 'curl', '-sS', '--max-time', '5'];
      if (user) args.push('-H', `end-user: ${user}`);
      try {
        return JSON.parse((await runCommand('ip', [...args, 'http://productpage:9080/'])).stdout) as Page;
      } catch {
        return undefined;
      }
    };
    const until = async (what: string, fn: () => Promise<boolean>): Promise<void> => {
      for (let i = 0; i < 120; i++) {
        if (await fn()) return;
        await sleep(250);
      }
      assert.fail(`timed out waiting for ${what}`);
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
    // Traffic starts once every ztunnel sends bookinfo's services through the waypoint: a connection
    // opened before that (productpage to reviews, then kept alive) goes straight to a reviews pod, as
    // in Istio, and the routing below would not apply to it.
    await until('every ztunnel to send bookinfo through the waypoint', async () => {
      const dumps = await Promise.all(
        cluster.nodes.map((n) =>
          fetch(`http://${n.ip}:15000/config_dump`, { signal: AbortSignal.timeout(2000) })
            .then(
              (r) =>
                r.json() as Promise<{ services: { namespace: string; name: string; waypoint?: unknown }[] }>,
            )
            .catch(() => undefined),
        ),
      );
      return dumps.every((d) => {
        const apps = (d?.services ?? []).filter((x) => x.namespace === 'bookinfo' && x.name !== 'waypoint');
        return apps.some((x) => x.name === 'reviews') && apps.every((x) => x.waypoint);
      });
    });
    await writeFile(
      join(cfg, 'reviews-routing.yaml'),
      `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: bookinfo}
spec:
  host: reviews
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}, {name: v3, labels: {version: v3}}]
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
    // Until the waypoint has the route, reviews answers from any version in turn, so one v2 for jason
    // can be chance: wait for jason at v2 and two others at v1 in three rounds in a row.
    let inRow = 0;
    const rounds: string[] = [];
    await until('jason to reach reviews v2 and the others v1', async () => {
      const seen = [(await page('jason'))?.reviews.servedBy, (await page())?.reviews.servedBy];
      seen.push((await page())?.reviews.servedBy);
      rounds.push(seen.join('/'));
      inRow = seen.join() === 'reviews-v2-1,reviews-v1-1,reviews-v1-1' ? inRow + 1 : 0;
      return inRow === 3;
    });
    t.diagnostic(`rounds until the route held (jason/other/other): ${rounds.join(' ')}`);
    for (let i = 0; i < 5; i++) {
      const j = await page('jason');
      assert.equal(j?.user, 'jason');
      assert.equal(j?.reviews.servedBy, 'reviews-v2-1');
      assert.equal(j?.reviews.ratings?.servedBy, 'ratings-v1-1');
      assert.equal((await page())?.reviews.servedBy, 'reviews-v1-1');
    }
    await writeFile(
      join(cfg, 'ratings-fault.yaml'),
      `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings, namespace: bookinfo}
spec:
  hosts: [ratings]
  http:
  - match: [{headers: {end-user: {exact: jason}}}]
    fault: {abort: {httpStatus: 500, percentage: {value: 100}}}
    route: [{destination: {host: ratings}}]
  - route: [{destination: {host: ratings}}]
`,
    );
    await until('the abort for jason', async () =>
      String((await page('jason'))?.reviews.ratings?.error ?? '').startsWith('500 fault filter abort'),
    );
    // The routes are there for meshctl get, as kubectl get shows them.
    const vs = await meshctl(['get', 'virtualservice', '-n', 'bookinfo', '--config-dir', cfg]);
    assert.match(vs.out, /ratings/);
    assert.match(vs.out, /reviews/);

    /** One curl for a whole URL range; one `-w` line per request. */
    const batch = async (url: string, format: string, headers: string[] = []): Promise<string[]> => {
      const args = ['netns', 'exec', curlPod.netns, 'curl', '-s', '-o', '/dev/null', '--max-time', '10'];
      for (const h of headers) args.push('-H', h);
      const r = await runCommand('ip', [...args, '-w', `${format}\n`, url], { timeoutMs: 120_000 });
      return r.stdout.trim().split('\n');
    };
    const wpPod = cluster.pods.find((p) => p.namespace === 'bookinfo' && p.name === 'waypoint-1')!;
    assert.ok(wpPod, 'the bookinfo waypoint pod');
    const metrics = async (): Promise<string> =>
      (
        await runCommand('ip', [
          'netns',
          'exec',
          wpPod.netns,
          'curl',
          '-sS',
          `http://${wpPod.ip}:15020/metrics`,
        ])
      ).stdout;
    /** istio_requests_total summed over the series whose labels all contain `parts`. */
    const requests = (text: string, ...parts: string[]): number =>
      text
        .split('\n')
        .filter((l) => l.startsWith('istio_requests_total{') && parts.every((p) => l.includes(p)))
        .reduce((a, l) => a + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    const access = async (): Promise<Array<Record<string, unknown>>> =>
      (await readFile(join(cluster.dirs.logs, `pod-bookinfo-${wpPod.name}.log`), 'utf8'))
        .split('\n')
        .filter((l) => l.includes('"msg":"access"'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    const podLog = (name: string): Promise<string> =>
      readFile(join(cluster.dirs.logs, `pod-bookinfo-${name}.log`), 'utf8');
    const DR = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: bookinfo}
spec:
  host: reviews
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}, {name: v3, labels: {version: v3}}]
---
`;
    const reviews = (http: string): Promise<void> =>
      writeFile(
        join(cfg, 'reviews-routing.yaml'),
        `${DR}apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: bookinfo}
spec:
  hosts: [reviews]
  http:
${http}`,
      );

    await t.test(
      '90/10 split over 1,000 requests: v2 within ±3 %; metrics and access log count them',
      async () => {
        await reviews(`  - route:
    - {destination: {host: reviews, subset: v1}, weight: 90}
    - {destination: {host: reviews, subset: v2}, weight: 10}
`);
        await waitFor('the split to apply (v2 without end-user)', async () =>
          (await batch('http://reviews:9080/reviews/warm[1-20]', '%header{x-served-by}')).includes(
            'reviews-v2-1',
          ),
        );
        const before = await metrics();
        const out = await batch(
          'http://reviews:9080/reviews/split[1-1000]',
          '%{http_code} %header{x-served-by}',
        );
        assert.equal(out.length, 1000);
        const v1 = out.filter((l) => l === '200 reviews-v1-1').length;
        const v2 = out.filter((l) => l === '200 reviews-v2-1').length;
        assert.equal(
          v1 + v2,
          1000,
          `every request answered 200 by v1 or v2: ${out.find((l) => !/^200 reviews-v[12]-1$/.test(l))}`,
        );
        assert.ok(Math.abs(v2 / 1000 - 0.1) <= 0.03, `10 % ± 3 % to v2, got ${v2 / 10} %`);
        t.diagnostic(`split: ${v1} to v1, ${v2} to v2 of 1000`);
        const after = await metrics();
        const count = (m: string, v: string): number =>
          requests(
            m,
            'reporter="waypoint"',
            `destination_version="${v}"`,
            'destination_service="reviews.bookinfo.svc.cluster.local"',
            'source_principal="spiffe://cluster.local/ns/bookinfo/sa/curl"',
            'response_code="200"',
          );
        const series = after
          .split('\n')
          .filter((l) => l.startsWith('istio_requests_total{') && l.includes('reviews.bookinfo'))
          .join('\n');
        assert.equal(count(after, 'v1') - count(before, 'v1'), v1, `istio_requests_total for v1:\n${series}`);
        assert.equal(count(after, 'v2') - count(before, 'v2'), v2, 'istio_requests_total for v2');
        await waitFor('1,000 access log records', async () => {
          const a = (await access()).filter((r) => String(r.path).startsWith('/reviews/split'));
          if (a.length < 1000) return false;
          assert.equal(a.length, 1000);
          assert.equal(a.filter((r) => String(r.upstream_cluster).includes('/v2|')).length, v2);
          assert.ok(a.every((r) => r.response_code === 200 && r.response_flags === '-'));
          assert.ok(a.every((r) => r.source_principal === 'spiffe://cluster.local/ns/bookinfo/sa/curl'));
          return true;
        });
      },
    );

    await t.test('delay 50 % and abort 20 % measured over 400 requests', async () => {
      await reviews(`  - match: [{uri: {prefix: /reviews/fault}}]
    fault:
      delay: {fixedDelay: 40ms, percentage: {value: 50}}
      abort: {httpStatus: 500, percentage: {value: 20}}
    route: [{destination: {host: reviews, subset: v1}}]
  - route: [{destination: {host: reviews, subset: v1}}]
`);
      await waitFor('the fault to apply', async () =>
        (await batch('http://reviews:9080/reviews/fault-warm[1-20]', '%{http_code}')).includes('500'),
      );
      const out = await batch('http://reviews:9080/reviews/fault[1-400]', '%{http_code} %{time_total}');
      const aborted = out.filter((l) => l.startsWith('500 ')).length;
      assert.equal(out.filter((l) => l.startsWith('200 ')).length + aborted, 400);
      // Bounds at 4 standard deviations of a binomial draw (abort: σ = 2 % of 400; delay: σ ≈ 2.8 % of
      // ~320), so chance alone fails a run about once in 10,000; a broken fault (0, 50, 100 %) still fails.
      assert.ok(Math.abs(aborted / 400 - 0.2) <= 0.08, `20 % ± 8 % aborted, got ${aborted / 4} %`);
      const slow = out.filter((l) => Number(l.split(' ')[1]) >= 0.04).length;
      let delayed = 0;
      await waitFor('400 access log records', async () => {
        const a = (await access()).filter((r) => /^\/reviews\/fault\d/.test(String(r.path)));
        if (a.length < 400) return false;
        assert.equal(a.filter((r) => r.response_flags === 'FI' && r.response_code === 500).length, aborted);
        delayed = a.filter((r) => r.response_flags === 'DI').length;
        return true;
      });
      // Delay and abort are drawn independently; a delayed request that is then aborted reports FI.
      const notAborted = 400 - aborted;
      t.diagnostic(
        `fault: ${aborted} of 400 aborted, ${delayed} of ${notAborted} delayed, ${slow} took >= 40 ms`,
      );
      assert.ok(
        Math.abs(delayed / notAborted - 0.5) <= 0.12,
        `50 % ± 12 % of ${notAborted} delayed, got ${delayed}`,
      );
      assert.ok(slow >= delayed, `every delayed request took ≥ 40 ms at the client (${slow} ≥ ${delayed})`);
    });

    await t.test('mirror to v2: v2 sees every request, the caller only v1', async () => {
      await reviews(`  - route: [{destination: {host: reviews, subset: v1}}]
    mirror: {host: reviews, subset: v2}
    mirrorPercentage: {value: 100}
`);
      await waitFor('the mirror to apply', async () => {
        await batch('http://reviews:9080/reviews/mirror-warm[1-5]', '%{http_code}');
        return (await podLog('reviews-v2-1')).includes('/reviews/mirror-warm');
      });
      const out = await batch(
        'http://reviews:9080/reviews/mirror[1-50]',
        '%{http_code} %header{x-served-by}',
      );
      assert.deepEqual(new Set(out), new Set(['200 reviews-v1-1']), 'the caller sees v1 only');
      await waitFor('v2 to log the 50 mirrored requests', async () => {
        const seen = (await podLog('reviews-v2-1'))
          .split('\n')
          .filter((l) => /"path":"\/reviews\/mirror\d+"/.test(l));
        return seen.length === 50;
      });
    });

    await t.test(
      'retries hide a details that fails every other request; without them half fail',
      async () => {
        const codes = await batch('http://details:9080/details/[1-20]', '%{http_code}');
        assert.equal(
          codes.filter((c) => c === '503').length,
          10,
          `every other one fails: ${codes.join(' ')}`,
        );
        await writeFile(
          join(cfg, 'details-retries.yaml'),
          `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: details, namespace: bookinfo}
spec:
  hosts: [details]
  http:
  - route: [{destination: {host: details}}]
    retries: {attempts: 2, retryOn: 5xx}
`,
        );
        await waitFor('the retries to apply', async () =>
          (await batch('http://details:9080/details/warm[1-10]', '%{http_code}')).every((c) => c === '200'),
        );
        const out = await batch('http://details:9080/details/retry[1-100]', '%{http_code}');
        assert.deepEqual(new Set(out), new Set(['200']), 'all 100 answered 200');
        const upstream = (await podLog('details-v1-1'))
          .split('\n')
          .filter((l) => /"path":"\/details\/retry\d+"/.test(l)).length;
        assert.ok(upstream >= 150, `details saw the retries too (${upstream} requests for 100)`);
      },
    );

    await t.test(
      'a 0.5 s timeout on reviews against a 2 s delay on ratings: 504 upstream request timeout',
      async () => {
        await writeFile(
          join(cfg, 'ratings-fault.yaml'),
          `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings, namespace: bookinfo}
spec:
  hosts: [ratings]
  http:
  - fault: {delay: {fixedDelay: 2s, percentage: {value: 100}}}
    route: [{destination: {host: ratings}}]
`,
        );
        await reviews(`  - route: [{destination: {host: reviews, subset: v2}}]
    timeout: 0.5s
`);
        await waitFor('the timeout to apply', async () => {
          const [l = ''] = await batch('http://reviews:9080/reviews/0', '%{http_code}');
          return l === '504';
        });
        const out = await batch('http://reviews:9080/reviews/timeout[1-3]', '%{http_code} %{time_total}');
        for (const l of out) {
          const [code, secs] = l.split(' ');
          assert.equal(code, '504');
          assert.ok(Number(secs) < 1.9, `answered at the 0.5 s timeout, not after the 2 s delay (${secs} s)`);
        }
        const a = (await access()).filter((r) => String(r.path).startsWith('/reviews/timeout'));
        assert.ok(a.length === 3 && a.every((r) => r.response_flags === 'UT' && r.response_code === 504));
      },
    );

    await t.test(
      "header changes: end-user set for productpage's callees, a response header added and one removed",
      async () => {
        await writeFile(
          join(cfg, 'productpage-headers.yaml'),
          `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: productpage, namespace: bookinfo}
spec:
  hosts: [productpage]
  http:
  - route: [{destination: {host: productpage}}]
    headers:
      request: {set: {end-user: jason}}
      response: {add: {x-bookinfo-route: via-waypoint}, remove: [x-served-by]}
`,
        );
        await waitFor('the header changes to apply', async () => (await page())?.user === 'jason');
        const r = await runCommand('ip', [
          'netns',
          'exec',
          curlPod.netns,
          'curl',
          '-sS',
          '-D',
          '-',
          '-o',
          '/dev/null',
          'http://productpage:9080/',
        ]);
        assert.match(r.stdout, /^x-bookinfo-route: via-waypoint\r?$/im);
        assert.doesNotMatch(r.stdout, /^x-served-by:/im);
        assert.match(r.stdout, /^server: istio-envoy\r?$/im);
      },
    );

    await t.test('trace context: started at the waypoint, the same trace id at every hop', async () => {
      await batch('http://productpage:9080/trace-check', '%{http_code}', ['x-request-id: trace-check-1']);
      const find = async (pod: string): Promise<{ traceparent?: string; b3_trace_id?: string }> => {
        const line = (await podLog(pod))
          .split('\n')
          .find((l) => l.includes('"request_id":"trace-check-1"') && l.includes('"path":"/'));
        return line ? (JSON.parse(line) as { traceparent?: string; b3_trace_id?: string }) : {};
      };
      let pp: { traceparent?: string; b3_trace_id?: string } = {};
      await waitFor(
        'productpage to log the request',
        async () => (pp = await find('productpage-v1-1')).traceparent !== undefined,
      );
      assert.match(pp.traceparent!, /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
      const traceId = pp.traceparent!.split('-')[1];
      assert.equal(pp.b3_trace_id, traceId, 'B3 and W3C carry the same trace');
      await waitFor('details and reviews to log it', async () => {
        const d = await find('details-v1-1');
        const rv = await find('reviews-v2-1');
        if (!d.traceparent || !rv.traceparent) return false;
        assert.equal(d.traceparent.split('-')[1], traceId);
        assert.equal(rv.traceparent.split('-')[1], traceId);
        assert.notEqual(d.traceparent.split('-')[2], pp.traceparent!.split('-')[2], 'a new span per hop');
        return true;
      });
    });
  },
);
