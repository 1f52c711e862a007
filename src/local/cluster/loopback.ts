/**
 * `meshctl up` without root (or without ip/nft/the native addon): the same demo on one network
 * namespace. Pods are 127.x addresses, istiod and one ztunnel per node run as processes, apps reach
 * the mesh through their node ztunnel's SOCKS5 (no kernel capture). Same certificates (istiod's CA with
 * node tokens), same HBONE, same identities and policies as the namespace cluster.
 */
import { mkdir, rm, writeFile, copyFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { addNodeToken } from '../../istiod/ca/local-tokens.js';
import { Proc } from './proc.js';
import { DIST_SRC } from './cluster.js';
import { writeClusterFile, type ClusterFile } from './state.js';
import { ZTUNNEL_NODE_FLAGS } from '../../ztunnel/node-flags.js';

const EXAMPLE = join(DIST_SRC, '../../deploy/examples/loopback-mesh.yaml');
const NODES = [
  { name: 'node-1', ip: '127.0.1.1', adminPort: '15000' },
  { name: 'node-2', ip: '127.0.2.1', adminPort: '15100' },
];
const CURL_POD = '127.10.1.2';
const ECHO_POD = '127.10.2.5';

export interface LoopbackCluster {
  procs: Proc[];
  /** Marks the cluster ready in <state>/cluster.json, so meshctl's commands act on it. */
  markReady(): Promise<void>;
  stop(): Promise<void>;
}

export async function startLoopbackCluster(
  stateDir: string,
  out: (s: string) => void,
): Promise<LoopbackCluster> {
  const dir = join(stateDir, 'loopback');
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, 'config'), { recursive: true });
  await mkdir(join(dir, 'logs'), { recursive: true });
  await copyFile(EXAMPLE, join(dir, 'config', 'mesh.yaml'));
  const tokens = join(dir, 'node-tokens.json');
  for (const n of NODES) {
    const token = await addNodeToken(tokens, {
      node: n.name,
      identity: { trustDomain: 'cluster.local', namespace: 'istio-system', serviceAccount: 'ztunnel' },
    });
    await writeFile(join(dir, `${n.name}.token`), token, { mode: 0o600 });
  }
  const procs: Proc[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(procs.reverse().map((p) => p.stop()));
    await rm(join(stateDir, 'cluster.json'), { force: true });
  };
  let ports = { xds: 0, monitoring: 0 };
  const markReady = (): Promise<void> =>
    writeClusterFile(stateDir, loopbackClusterFile(stateDir, ports, procs));
  try {
    const istiod = new Proc(
      'istiod',
      process.execPath,
      [
        join(DIST_SRC, 'istiod/main.js'),
        '--config-dir',
        join(dir, 'config'),
        '--xds-address',
        '127.0.0.1:0',
        '--secure-xds-address',
        '127.0.0.1:0',
        '--monitoring-address',
        '127.0.0.1:0',
        '--ca-dir',
        join(dir, 'ca'),
        '--node-token-file',
        tokens,
      ],
      join(dir, 'logs', 'istiod.log'),
    );
    procs.push(istiod);
    const started = await istiod.waitFor((l) => l.msg === 'istiod started', 'start');
    ports = started.ports as { xds: number; monitoring: number };
    const xds = ports.xds;
    out(`  istiod: xDS and CA on 127.0.0.1:${xds}`);
    const echo = new Proc(
      'echo',
      process.execPath,
      [join(DIST_SRC, 'local/apps/echo-main.js'), '--host', ECHO_POD, '--port', '8080', '--name', 'echo'],
      join(dir, 'logs', 'echo.log'),
    );
    procs.push(echo);
    await echo.waitFor((l) => String(l.msg).startsWith('echo echo listening'), 'listening');
    out(`  pod default/echo: ${ECHO_POD} on node-2 (app on :8080)`);
    out(`  pod default/curl: ${CURL_POD} on node-1`);
    for (const n of NODES) {
      const zt = new Proc(
        `ztunnel ${n.name}`,
        process.execPath,
        [
          ...ZTUNNEL_NODE_FLAGS,
          join(DIST_SRC, 'ztunnel/main.js'),
          '--node-name',
          n.name,
          '--node-ip',
          n.ip,
          '--xds-address',
          `127.0.0.1:${xds}`,
          '--token-file',
          join(dir, `${n.name}.token`),
          '--admin-port',
          n.adminPort,
        ],
        join(dir, 'logs', `ztunnel-${n.name}.log`),
      );
      procs.push(zt);
      await zt.waitFor((l) => l.msg === 'first state sync done', 'the first sync');
      out(
        `  ztunnel ${n.name}: synced with istiod; SOCKS5 on ${n.ip}:15080, admin on 127.0.0.1:${n.adminPort}`,
      );
    }
    return { procs, stop, markReady };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** What `meshctl status` and the other commands read of the loopback cluster. */
function loopbackClusterFile(
  stateDir: string,
  ports: { xds: number; monitoring: number },
  procs: Proc[],
): ClusterFile {
  const pid = (name: string): { pid?: number; restarts: number } => {
    const p = procs.find((x) => x.name === name)?.child.pid;
    return { ...(p ? { pid: p } : {}), restarts: 0 };
  };
  const dir = join(stateDir, 'loopback');
  const created = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const pod = (name: string, node: string, ip: string, pids: number[]) => ({
    namespace: 'default',
    name,
    node,
    netns: '',
    ip,
    hostLink: '',
    pids,
    restarts: 0,
    labels: { app: name },
    created,
  });
  return {
    name: 'loopback',
    stateDir,
    configDir: join(dir, 'config'),
    mode: 'loopback',
    pid: process.pid,
    ready: true,
    istiod: {
      address: `127.0.0.1:${ports.xds}`,
      monitoring: `127.0.0.1:${ports.monitoring}`,
      ...pid('istiod'),
    },
    nodes: NODES.map((n, i) => ({
      name: n.name,
      index: i + 1,
      netns: '',
      ip: n.ip,
      podCidr: `127.10.${i + 1}.0/24`,
      podGateway: '',
      ztunnel: pid(`ztunnel ${n.name}`),
      ztunnelLog: join(dir, 'logs', `ztunnel-${n.name}.log`),
      admin: `127.0.0.1:${n.adminPort}`,
    })),
    pods: [
      pod('curl', 'node-1', CURL_POD, []),
      pod('echo', 'node-2', ECHO_POD, pid('echo').pid ? [pid('echo').pid!] : []),
    ],
    services: [],
  };
}

/** An HTTP GET through SOCKS5 (RFC 1928, no auth, CONNECT by name) from a pod IP: what curl --socks5-hostname does. */
export function getThroughSocks(
  proxy: { host: string; port: number },
  fromIp: string,
  host: string,
  port: number,
  path: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: proxy.host, port: proxy.port, localAddress: fromIp });
    let stage = 0;
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('no answer through SOCKS5 within 5 s'));
    }, 5000);
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.on('connect', () => s.write(Buffer.from([5, 1, 0])));
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (stage === 0 && buf.length >= 2) {
        buf = buf.subarray(2);
        stage = 1;
        const name = Buffer.from(host);
        s.write(
          Buffer.concat([
            Buffer.from([5, 1, 0, 3, name.length]),
            name,
            Buffer.from([port >> 8, port & 0xff]),
          ]),
        );
      } else if (stage === 1 && buf.length >= 10) {
        if (buf[1] !== 0) {
          clearTimeout(timer);
          s.destroy();
          reject(new Error(`SOCKS5 refused the connection (reply ${buf[1]})`));
          return;
        }
        buf = buf.subarray(10);
        stage = 2;
        s.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nConnection: close\r\n\r\n`);
      }
    });
    s.on('end', () => {
      clearTimeout(timer);
      resolve(buf.toString());
    });
  });
}

export async function runLoopbackDemo(c: LoopbackCluster, out: (s: string) => void): Promise<boolean> {
  out("\ndemo: default/curl (node-1) -> http://echo:8080/ (echo on node-2), through ztunnel node-1's SOCKS5");
  let reply = '';
  for (let i = 0; i < 20 && !reply.startsWith('HTTP/1.1 200'); i++) {
    reply = await getThroughSocks(
      { host: NODES[0]!.ip, port: 15080 },
      CURL_POD,
      'echo',
      8080,
      '/hello',
    ).catch((e: Error) => `error: ${e.message}`);
    if (!reply.startsWith('HTTP/1.1 200')) await new Promise((r) => setTimeout(r, 250));
  }
  const ok = reply.startsWith('HTTP/1.1 200');
  const body = reply.slice(reply.indexOf('\r\n\r\n') + 4);
  let peer = '?';
  try {
    peer = (JSON.parse(body) as { peer: string }).peer;
  } catch {
    // not JSON: the failure line is printed below
  }
  out(ok ? `  response: 200 from echo; the app saw peer ${peer}` : `  failed: ${reply.split('\r\n')[0]}`);
  const access = (p: Proc | undefined, dir: string): Record<string, unknown> | undefined =>
    p?.lines.filter((l) => l.access === true && l.direction === dir).at(-1);
  await new Promise((r) => setTimeout(r, 200));
  const o = access(
    c.procs.find((p) => p.name === 'ztunnel node-1'),
    'outbound',
  );
  const i = access(
    c.procs.find((p) => p.name === 'ztunnel node-2'),
    'inbound',
  );
  if (o)
    out(
      `  ztunnel node-1 outbound: ${String(o.src_identity)} -> ${String(o.dst_identity)} (${String(o.path)} -> ${String(o.dst_addr)}) result=${String(o.result)}`,
    );
  if (i)
    out(
      `  ztunnel node-2 inbound: ${String(i.src_identity)} -> ${String(i.dst_identity)} (-> ${String(i.dst_addr)}) result=${String(i.result)}, policy: allowed`,
    );
  out('  path: curl pod --SOCKS5--> ztunnel node-1 --HBONE mTLS :15008--> ztunnel node-2 --> echo pod');
  return ok;
}
