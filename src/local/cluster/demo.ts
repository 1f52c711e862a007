/**
 * The demo `meshctl up` runs once the cluster is up: curl (node-1) -> echo (node-2) by name, then a
 * summary from the ztunnels' access logs: the path, the identities each side saw, the decision.
 */
import { runCommand } from '../netns/index.js';
import type { LocalCluster } from './cluster.js';

/** Runs curl in a pod; retries while the mesh is settling. Returns curl's output (or the last error). */
export async function curlFrom(
  cluster: LocalCluster,
  pod: string,
  url: string,
  tries = 40,
): Promise<{ ok: boolean; body: string }> {
  const p = cluster.pods.find(
    (x) => `${x.namespace}/${x.name}` === pod || `${x.namespace}/${x.deployment}` === pod,
  );
  if (!p) return { ok: false, body: `no pod ${pod}` };
  let last = '';
  for (let i = 0; i < tries; i++) {
    try {
      const r = await runCommand('ip', ['netns', 'exec', p.netns, 'curl', '-sS', '--max-time', '3', url]);
      return { ok: true, body: r.stdout };
    } catch (err) {
      last = String((err as Error).message);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  return { ok: false, body: last };
}

export async function runDemo(cluster: LocalCluster, out: (s: string) => void): Promise<void> {
  out('\ndemo: default/curl (node-1) -> http://echo:8080/ (echo on node-2)');
  const r = await curlFrom(cluster, 'default/curl', 'http://echo:8080/');
  if (!r.ok) throw new Error(`the demo request failed: ${r.body}`);
  let peer = '';
  try {
    peer = String((JSON.parse(r.body) as { peer?: string; servedBy?: string }).peer ?? '');
  } catch {
    /* not JSON */
  }
  const client = cluster.pods.find((p) => p.namespace === 'default' && p.deployment === 'curl');
  const kept =
    client && peer.startsWith(`${client.ip}:`) ? " (the curl pod's own address: ztunnel kept it)" : '';
  out(
    `  response: 200 from ${r.body.includes('servedBy') ? (JSON.parse(r.body) as { servedBy: string }).servedBy : '?'}; the app saw peer ${peer}${kept}`,
  );
  await new Promise((res) => setTimeout(res, 300));
  for (const [node, zt] of cluster.ztunnels) {
    const logs = zt.proc.lines.filter((l) => l.access === true);
    const last = logs[logs.length - 1];
    if (!last) {
      out(`  ztunnel ${node}: no access log line`);
      continue;
    }
    out(
      `  ztunnel ${node} ${String(last.direction)}: ${String(last.src_identity ?? last.src_workload ?? '?')} -> ${String(last.dst_identity ?? '?')} ` +
        `(${String(last.path ?? '')} -> ${String(last.dst_addr ?? '')}) result=${String(last.result ?? '?')}` +
        (last.direction === 'inbound'
          ? `, policy: ${last.result === 'denied' ? `denied (${String(last.reason ?? '')})` : 'allowed (L4 authorization at the destination)'}`
          : ''),
    );
  }
  out(
    '  path: curl pod --(nftables REDIRECT :15001)--> ztunnel node-1 --HBONE mTLS :15008--> ztunnel node-2 --> echo pod',
  );
}
