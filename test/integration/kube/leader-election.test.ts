/**
 * Two istiod replicas electing the writer through a coordination.k8s.io/v1 Lease on a real API
 * server: exactly one leads; when it stops (releasing the Lease) the other takes over at once; when
 * it dies without releasing, the other takes over once the lease duration has passed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CoreV1Api } from '@kubernetes/client-node';
import { KubeControlPlane, controlPlaneProblem } from '../../../src/kube/control-plane.js';
import { loadKubeConfig, requestJson } from '../../../src/istiod/config/kube-client.js';
import { LeaderElector } from '../../../src/istiod/leader-election.js';
import { waitFor } from '../istiod/config/helpers/wait-for.js';

const problem = controlPlaneProblem();
if (problem) console.log(`# skipping the leader election tests: ${problem}`);

let plane: Promise<KubeControlPlane> | undefined;
test.after(async () => {
  await (await plane?.catch(() => undefined))?.stop();
});

test('two istiods: one leads, the other takes over when it stops or dies', { skip: problem }, async (t) => {
  plane ??= KubeControlPlane.start();
  const cp = await plane;
  const kc = loadKubeConfig(cp.kubeconfigPath);
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: 'istio-system' } } });
  // What each replica's writers would do: count who is running them.
  const running = new Set<string>();
  const replica = (identity: string) => {
    const e = new LeaderElector({
      kubeConfig: kc,
      namespace: 'istio-system',
      name: 'istio-leader',
      identity,
      leaseDurationMs: 3000,
      renewDeadlineMs: 2000,
      retryPeriodMs: 200,
      onStartedLeading: () => {
        assert.equal(
          running.size,
          0,
          `${identity} starts its writers while ${[...running].join()} runs them`,
        );
        running.add(identity);
      },
      onStoppedLeading: () => void running.delete(identity),
    });
    t.after(() => e.stop());
    return e;
  };
  const holder = async () =>
    (
      await requestJson<{ spec: { holderIdentity?: string; leaseTransitions?: number } }>(
        kc,
        'GET',
        '/apis/coordination.k8s.io/v1/namespaces/istio-system/leases/istio-leader',
      )
    ).spec;

  const a = replica('istiod-a');
  const b = replica('istiod-b');
  a.start();
  await a.whenLeading();
  b.start();
  // Several of b's rounds (200 ms apart) while a renews: b never leads.
  await new Promise((r) => setTimeout(r, 1500));
  assert.deepEqual([a.isLeader, b.isLeader], [true, false]);
  assert.equal((await holder()).holderIdentity, 'istiod-a');

  // a stops: it releases the Lease and b takes it on its next round, well within the lease duration.
  await a.stop();
  await waitFor('b to lead', () => b.isLeader, 3000);
  assert.deepEqual([...running], ['istiod-b']);
  assert.equal((await holder()).holderIdentity, 'istiod-b');

  // b dies without releasing: a new replica waits out the lease duration, then leads.
  const c = replica('istiod-c');
  c.start();
  await new Promise((r) => setTimeout(r, 600));
  assert.equal(c.isLeader, false, 'b still holds a live Lease');
  const died = Date.now();
  await b.stop({ release: false });
  running.clear();
  await waitFor('c to lead', () => c.isLeader, 10_000);
  assert.ok(Date.now() - died >= 2000, 'not before the Lease expired');
  const spec = await holder();
  assert.equal(spec.holderIdentity, 'istiod-c');
  assert.equal(spec.leaseTransitions, 2);
});
