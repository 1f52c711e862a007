import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  expandVars,
  fieldValue,
  probePort,
  translatePaths,
  type KubePod,
} from '../../../../src/local/kube/pod-spec.js';
import { containerCommand, entrypoint, imageComponent } from '../../../../src/local/kube/images.js';

const pod: KubePod = {
  metadata: { name: 'ztunnel-abc', namespace: 'istio-system', uid: 'u-1', labels: { app: 'ztunnel' } },
  spec: { nodeName: 'node-1', serviceAccountName: 'ztunnel', containers: [] },
};

test('paths under a mountPath move under the pod root, whole paths only, once', () => {
  const mounts = ['/var/run/ztunnel', '/tmp', '/var/run/secrets/tokens', '/var/run/secrets'];
  const root = '/tmp/state/pods/u-1/root';
  assert.equal(
    translatePaths('--capture-socket=/var/run/ztunnel/ztunnel.sock', mounts, root),
    `--capture-socket=${root}/var/run/ztunnel/ztunnel.sock`,
  );
  // The longest mountPath wins, and the root (itself under /tmp) is not rewritten again.
  assert.equal(
    translatePaths('/var/run/secrets/tokens/istio-token', mounts, root),
    `${root}/var/run/secrets/tokens/istio-token`,
  );
  assert.equal(translatePaths('/tmpfoo /tmp', mounts, root), `/tmpfoo ${root}/tmp`);
  assert.equal(
    translatePaths('istiod.istio-system.svc:15010', mounts, root),
    'istiod.istio-system.svc:15010',
  );
});

test('$(VAR) expansion as Kubernetes does it: known names, $$ escapes, unknown ones stay', () => {
  assert.equal(
    expandVars('--node=$(NODE_NAME) $(NOPE) $$(NODE_NAME)', { NODE_NAME: 'node-1' }),
    '--node=node-1 $(NOPE) $(NODE_NAME)',
  );
});

test('the downward API names the pod, its node, account and IPs', () => {
  const facts = { podIP: '10.244.1.3', hostIP: '10.244.255.2' };
  assert.equal(fieldValue(pod, facts, 'spec.nodeName'), 'node-1');
  assert.equal(fieldValue(pod, facts, 'status.podIP'), '10.244.1.3');
  assert.equal(fieldValue(pod, facts, 'spec.serviceAccountName'), 'ztunnel');
  assert.equal(fieldValue(pod, facts, "metadata.labels['app']"), 'ztunnel');
  assert.equal(fieldValue(pod, facts, 'status.nope'), undefined);
});

test('probe ports by number or by container port name', () => {
  const c = { name: 'c', ports: [{ name: 'http', containerPort: 8080 }] };
  assert.equal(probePort(c, 'http'), 8080);
  assert.equal(probePort(c, 15021), 15021);
  assert.equal(probePort(c, 'nope'), undefined);
});

test("images: the project's run its executables under any hub; others need a command", () => {
  assert.equal(imageComponent('registry.example:5000/team/ztunnel:0.1.0'), 'ztunnel');
  assert.equal(imageComponent('meshlite/node-agent@sha256:abc'), 'node-agent');
  assert.deepEqual(entrypoint({ image: 'meshlite/ztunnel:1', args: ['--mode=capture'] }, '/n', '/d'), {
    ok: true,
    argv: ['/n', '/d/ztunnel/main.js', '--mode=capture'],
    own: 2,
  });
  assert.deepEqual(
    entrypoint({ image: 'curlimages/curl', command: ['sleep'], args: ['infinity'] }, '/n', '/d'),
    {
      ok: true,
      argv: ['sleep', 'infinity'],
      own: 0,
    },
  );
  const bad = entrypoint({ image: 'nginx:1.27' }, '/n', '/d');
  assert.equal(bad.ok, false);
  assert.match(!bad.ok ? bad.message : '', /nginx:1\.27.*not one the local cluster runs/);
});

test("a checkout under /tmp: the project's node and script keep their host paths when a pod mounts /tmp", () => {
  const root = '/state/pods/u1/root';
  const ep = entrypoint(
    { image: 'meshlite/istiod:1', args: ['--ca-dir=/tmp/ca'] },
    '/tmp/ci/node_modules/.bin/node',
    '/tmp/ci/dist/src',
  );
  assert.ok(ep.ok);
  assert.deepEqual(
    containerCommand(ep, (a) => translatePaths(a, ['/tmp'], root)),
    ['/tmp/ci/node_modules/.bin/node', '/tmp/ci/dist/src/istiod/main.js', `--ca-dir=${root}/tmp/ca`],
  );
});

test("istio-init: a project image's `node dist/src/<script>` runs that script of the checkout", () => {
  assert.deepEqual(
    entrypoint(
      {
        image: 'meshlite/sidecar:0.1.0',
        command: ['node', 'dist/src/sidecar/init-main.js'],
        args: ['--proxy-uid', '1337'],
      },
      '/n',
      '/d',
    ),
    { ok: true, argv: ['/n', '/d/sidecar/init-main.js', '--proxy-uid', '1337'], own: 2 },
  );
  // Another image's `node` is a host program, as any command.
  assert.deepEqual(entrypoint({ image: 'node:22', command: ['node', 'dist/src/app.js'] }, '/n', '/d'), {
    ok: true,
    argv: ['node', 'dist/src/app.js'],
    own: 0,
  });
});
