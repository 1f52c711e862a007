import net from 'node:net';
import { mkdtemp, rm, writeFile, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { Registry } from 'prom-client';
import type { Logger } from '../../../src/common/logger.js';
import { silentLogger } from '../../../src/common/logger.js';
import { Istiod } from '../../../src/istiod/app.js';
import { DirectorySource } from '../../../src/istiod/config/directory-source.js';
import { createRootCa, createIntermediateCa } from '../../../src/pki/ca.js';
import { Ztunnel } from '../../../src/ztunnel/app.js';
import { LocalIdentities } from '../../../src/ztunnel/identity.js';
import { parseConfig } from '../../../src/common/config.js';
import { ztunnelSchema, type ZtunnelConfig } from '../../../src/ztunnel/config.js';
import { captureLogger } from '../hbone/fixtures.js';

/**
 * Two nodes on loopback: istiod in-process over a config directory, and one ztunnel per node.
 * Pods are 127.x addresses (every 127/8 address is local on Linux, no root needed): the app of a pod
 * listens on its IP, and its node's ztunnel opens the pod's HBONE (15008) and plaintext (15006)
 * listeners on the same IP, as in-pod mode does inside the pod's namespace.
 */
export interface MeshOptions {
  /** Second octet of every address this mesh uses, so test files running in parallel do not collide. */
  net: number;
}

export const pod = (net: number, node: number, host: number): string => `127.${net}.${node}.${host}`;

export function meshYaml(n: number, extra = '', echoServiceLabels = '{}'): string {
  return `apiVersion: v1
kind: Namespace
metadata: {name: default, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Namespace
metadata: {name: legacy}
---
apiVersion: v1
kind: Pod
metadata: {name: curl-1, namespace: default, labels: {app: curl}}
spec: {nodeName: node-1, serviceAccountName: curl, containers: [{name: curl, image: curl}]}
status: {podIP: ${pod(n, 1, 2)}, phase: Running, conditions: [{type: Ready, status: "True"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: echo-1, namespace: default, labels: {app: echo}}
spec: {nodeName: node-2, serviceAccountName: echo, containers: [{name: echo, image: echo, ports: [{containerPort: 8080, name: tcp-echo}]}]}
status: {podIP: ${pod(n, 2, 5)}, phase: Running, conditions: [{type: Ready, status: "True"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: echo-2, namespace: default, labels: {app: echo}}
spec: {nodeName: node-1, serviceAccountName: echo, containers: [{name: echo, image: echo, ports: [{containerPort: 8080, name: tcp-echo}]}]}
status: {podIP: ${pod(n, 1, 6)}, phase: Running, conditions: [{type: Ready, status: "True"}]}
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: default, labels: ${echoServiceLabels}}
spec: {selector: {app: echo}, clusterIP: 10.96.${n}.10, ports: [{name: tcp-echo, port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Pod
metadata: {name: outsider, namespace: legacy, labels: {app: outsider}}
spec: {nodeName: node-1, serviceAccountName: default, containers: [{name: c, image: curl}]}
status: {podIP: ${pod(n, 1, 9)}, phase: Running, conditions: [{type: Ready, status: "True"}]}
${extra}`;
}

/** An echo app: prefixes every reply with the pod name, so tests see which endpoint answered. */
export async function echoApp(ip: string, port: number, name: string): Promise<net.Server> {
  const srv = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => {});
    s.on('data', (d) => s.write(`${name}:${d.toString()}`));
    s.on('end', () => s.end());
  });
  srv.listen(port, ip);
  await once(srv, 'listening');
  return srv;
}

export class TestMesh {
  readonly n: number;
  dir = '';
  istiod!: Istiod;
  zt1!: Ztunnel;
  zt2!: Ztunnel;
  logs1 = captureLogger();
  logs2 = captureLogger();
  apps: net.Server[] = [];
  private readonly ca = createIntermediateCa(createRootCa());

  constructor(o: MeshOptions) {
    this.n = o.net;
  }

  async start(extraYaml = '', echoServiceLabels = '{}'): Promise<this> {
    this.dir = await mkdtemp(join(tmpdir(), 'zt-mesh-'));
    await writeFile(join(this.dir, 'mesh.yaml'), meshYaml(this.n, extraYaml, echoServiceLabels));
    await this.startIstiod();
    this.zt1 = await this.startZtunnel('node-1', this.logs1.logger);
    this.zt2 = await this.startZtunnel('node-2', this.logs2.logger);
    this.apps.push(
      await echoApp(pod(this.n, 2, 5), 8080, 'echo-1'),
      await echoApp(pod(this.n, 1, 6), 8080, 'echo-2'),
    );
    await Promise.all([this.zt1.whenReady(), this.zt2.whenReady()]);
    return this;
  }

  async startIstiod(port = 0, logger: Logger = silentLogger()): Promise<void> {
    const source = new DirectorySource({ dir: this.dir, logger, debounceMs: 20, rescanMs: 0 });
    this.istiod = new Istiod({
      source,
      xdsAddress: { host: '127.0.0.1', port },
      debounce: { quietMs: 10, maxMs: 100 },
      logger,
    });
    await this.istiod.start();
    await this.istiod.whenReady();
  }

  async startZtunnel(node: string, logger: Logger): Promise<Ztunnel> {
    const nodeIp = pod(this.n, node === 'node-1' ? 1 : 2, 1);
    const { config } = parseConfig(ztunnelSchema, [], {});
    const cfg: ZtunnelConfig = {
      ...config,
      nodeName: node,
      nodeIp,
      podName: `ztunnel-${node}`,
      xdsAddress: `127.0.0.1:${this.istiod.ports.xds}`,
      adminPort: 0,
      metricsPort: 0,
      readinessPort: 0,
      drainDeadline: 2000,
    };
    const zt = new Ztunnel(cfg, {
      logger,
      registry: new Registry(),
      identities: new LocalIdentities(this.ca),
    });
    await zt.start();
    return zt;
  }

  /** A client socket "from" a pod: connected to a one-shot local listener, handed to ztunnel's outbound. */
  async connectFrom(zt: Ztunnel, srcIp: string, dst: { ip: string; port: number }): Promise<net.Socket> {
    const src = zt.store.workloadByAddress('', srcIp);
    if (!src) throw new Error(`no workload ${srcIp}`);
    const l = net.createServer({ allowHalfOpen: true }, (s) => {
      l.close();
      zt.handleOutbound(s, src, dst);
    });
    l.listen(0, zt.cfg.nodeIp);
    await once(l, 'listening');
    const c = net.connect({
      host: zt.cfg.nodeIp,
      port: (l.address() as net.AddressInfo).port,
      localAddress: srcIp,
      allowHalfOpen: true,
    });
    c.on('error', () => {});
    await once(c, 'connect');
    return c;
  }

  async writeConfig(name: string, yaml: string): Promise<void> {
    await writeFile(join(this.dir, name), yaml);
  }

  async removeConfig(name: string): Promise<void> {
    await unlink(join(this.dir, name));
  }

  async stop(): Promise<void> {
    for (const a of this.apps) a.close();
    await Promise.allSettled([this.zt1?.shutdown(200), this.zt2?.shutdown(200)]);
    await this.istiod?.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Sends `msg`, reads until `expect` arrived (or the connection ended). */
export function roundTrip(c: net.Socket, msg: string, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const t = setTimeout(
      () => done(new Error(`no answer to "${msg}" within ${timeoutMs} ms (got "${got}")`)),
      timeoutMs,
    );
    const onData = (d: Buffer): void => {
      got += d.toString();
      if (got.endsWith(msg)) done();
    };
    const onEnd = (): void => done(new Error(`connection ended; got "${got}"`));
    const done = (err?: Error): void => {
      clearTimeout(t);
      c.off('data', onData);
      c.off('end', onEnd);
      c.off('close', onEnd);
      if (err) reject(err);
      else resolve(got);
    };
    c.on('data', onData);
    c.once('end', onEnd);
    c.once('close', onEnd);
    c.write(msg);
  });
}
