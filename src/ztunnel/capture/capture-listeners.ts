/**
 * Capture mode: for each ambient pod of this node whose network namespace the node agent handed
 * over, install the capture rules in that namespace and open the pod's listeners there (15001
 * outbound, 15006 plaintext inbound, 15008 HBONE). A pod that leaves the mesh (or the node) gets its
 * rules and listeners removed, so its traffic flows directly again.
 */
import net from 'node:net';
import { basename } from 'node:path';
import { rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Logger } from '../../common/logger.js';
import { errorMessage } from '../../common/errors.js';
import { getOriginalDst, listenInNamespace } from '../../native/index.js';
import { applyNftRuleset, runCommand, setNetnsSysctl } from '../../local/netns/index.js';
import type { Workload } from '../state/types.js';
import { captureRuleset, removeRuleset, replyRouteArgs, type CapturePorts } from './rules.js';
import { parseCaptureMessage, type PodNetns } from './protocol.js';

export interface CaptureHandlers {
  outbound(socket: net.Socket, pod: Workload, origDst: { ip: string; port: number }): void;
  hbone(socket: net.Socket, pod: Workload): void;
  plaintext(socket: net.Socket, pod: Workload, origDst: { ip: string; port: number }): void;
}

interface Enrolled {
  key: string;
  netns: string;
  servers: net.Server[];
}

const keyOf = (namespace: string, name: string): string => `${namespace}/${name}`;

export class CapturePodListeners {
  /** Pods of this node and their namespaces, as the node agent told. */
  readonly pods = new Map<string, PodNetns>();
  private readonly enrolled = new Map<string, Enrolled>();
  private server: net.Server | undefined;
  private snapshotDone = false;
  private lastWanted: Workload[] = [];
  private lookup: (uid: string) => Workload | undefined = () => undefined;
  private busy: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly log: Logger,
    private readonly handlers: CaptureHandlers,
    private readonly ports: CapturePorts,
  ) {}

  get ready(): boolean {
    return this.snapshotDone;
  }

  /** The pod's namespace path, if it is enrolled (ztunnel dials from inside it). */
  netnsOf(w: Workload): string | undefined {
    return this.enrolled.get(keyOf(w.namespace, w.name))?.netns;
  }

  describe(): Array<{ uid: string; netns: string; addresses: string[] }> {
    return [...this.enrolled.values()].map((e) => ({
      uid: e.key,
      netns: e.netns,
      addresses: e.servers.map((s) => {
        const a = s.address() as net.AddressInfo | null;
        return a ? `${a.address}:${a.port}` : 'closed';
      }),
    }));
  }

  /** Listens on the unix socket the node agent connects to. */
  async listen(path: string): Promise<void> {
    await rm(path, { force: true });
    this.server = net.createServer((conn) => {
      conn.on('error', () => undefined);
      createInterface({ input: conn }).on('line', (line) => {
        const m = parseCaptureMessage(line);
        if (!m) {
          this.log.warn({ line: line.slice(0, 200) }, 'capture socket: ignoring an invalid message');
          conn.write('{"ok":false,"error":"not a capture message (add, del or snapshot-done)"}\n');
          return;
        }
        if (m.type === 'snapshot-done') {
          this.snapshotDone = true;
          this.log.info({ pods: this.pods.size }, 'capture: node agent snapshot done');
        } else if (m.type === 'add') {
          const v: PodNetns = { netns: m.netns };
          if (m.healthSource) v.healthSource = m.healthSource;
          this.pods.set(keyOf(m.namespace, m.name), v);
        } else this.pods.delete(keyOf(m.namespace, m.name));
        conn.write('{"ok":true}\n');
        void this.reconcile(this.lastWanted, this.lookup);
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(path, () => resolve());
    });
  }

  /** Enrolls the wanted pods we have a namespace for; releases the others. Serialized. */
  reconcile(pods: Workload[], lookup: (uid: string) => Workload | undefined): Promise<void> {
    this.lastWanted = pods;
    this.lookup = lookup;
    this.busy = this.busy
      .then(() => this.doReconcile())
      .catch((err: unknown) => {
        this.log.error({ err: errorMessage(err) }, 'capture reconcile failed');
      });
    return this.busy;
  }

  private async doReconcile(): Promise<void> {
    if (this.stopped) return;
    const want = new Map<string, { pod: Workload; ns: PodNetns }>();
    for (const p of this.lastWanted) {
      const key = keyOf(p.namespace, p.name);
      const ns = this.pods.get(key);
      if (ns) want.set(key, { pod: p, ns });
    }
    for (const [key, e] of this.enrolled) {
      const w = want.get(key);
      if (w && w.ns.netns === e.netns) continue;
      this.enrolled.delete(key);
      for (const s of e.servers) s.close();
      await applyNftRuleset(nsName(e.netns), removeRuleset()).catch((err: unknown) =>
        this.log.warn({ pod: key, err: errorMessage(err) }, 'capture: removing rules failed'),
      );
      await runCommand('ip', replyRouteArgs(nsName(e.netns)).remove).catch(() => undefined);
      this.log.info({ pod: key }, 'capture: pod released (rules and listeners removed)');
    }
    for (const [key, { pod, ns }] of want) {
      if (this.enrolled.has(key)) continue;
      try {
        await this.enroll(key, pod, ns);
      } catch (err) {
        this.log.error({ pod: key, err: errorMessage(err) }, 'capture: enrolling the pod failed');
      }
    }
  }

  private async enroll(key: string, pod: Workload, ns: PodNetns): Promise<void> {
    const uid = pod.uid;
    const current = (): Workload => this.lookup(uid) ?? pod;
    const withDst = (s: net.Socket, fn: (d: { ip: string; port: number }) => void): void => {
      s.on('error', () => undefined);
      try {
        const d = getOriginalDst(s);
        fn({ ip: d.ip, port: d.port });
      } catch (err) {
        this.log.warn({ pod: key, err: errorMessage(err) }, 'capture: no original destination');
        s.destroy();
      }
    };
    const e: Enrolled = { key, netns: ns.netns, servers: [] };
    const open = async (port: number, onConn: (s: net.Socket) => void): Promise<void> => {
      const srv = net.createServer({ allowHalfOpen: true, noDelay: true }, onConn);
      // reusePort: a new ztunnel (a restart) listens beside this one before this one stops accepting.
      e.servers.push(await listenInNamespace(ns.netns, { port, host: '0.0.0.0', reusePort: true }, srv));
    };
    // Connections waiting in a listener's queue when it closes move to the other listener of the
    // port (the new ztunnel's) instead of being reset.
    await setNetnsSysctl(nsName(ns.netns), 'net.ipv4.tcp_migrate_req', 1).catch((err: unknown) =>
      this.log.warn({ pod: key, err: errorMessage(err) }, 'capture: tcp_migrate_req not set'),
    );
    // Known before the first listener opens: with SO_REUSEPORT a connection can arrive at once, and
    // its handler dials from this namespace (netnsOf).
    this.enrolled.set(key, e);
    try {
      await open(this.ports.outbound, (s) => withDst(s, (d) => this.handlers.outbound(s, current(), d)));
      await open(this.ports.inboundPlaintext, (s) =>
        withDst(s, (d) => this.handlers.plaintext(s, current(), d)),
      );
      await open(this.ports.hbone, (s) => this.handlers.hbone(s, current()));
      await applyNftRuleset(nsName(ns.netns), captureRuleset(this.ports, ns.healthSource));
      const route = replyRouteArgs(nsName(ns.netns));
      await runCommand('ip', route.add[0]!);
      if (!(await runCommand('ip', route.show)).stdout.trim()) await runCommand('ip', route.add[1]!);
    } catch (err) {
      this.enrolled.delete(key);
      for (const s of e.servers) s.close();
      throw err;
    }
    this.log.info(
      { pod: key, netns: ns.netns },
      'capture: pod enrolled (rules and listeners in its namespace)',
    );
  }

  /**
   * Stops accepting (drain): closes the node agent's socket and every pod's listeners, and leaves the
   * pods' rules in place. A ztunnel taking over (a restart) has opened its own listeners on the same
   * ports already; with none, the pods' traffic fails closed until one does, as in Istio. Rules go
   * when a pod leaves the mesh (reconcile) or its namespace is deleted.
   */
  stopAccepting(): void {
    this.stopped = true;
    this.server?.close();
    // The pods stay known (netnsOf) for the connections still draining.
    for (const e of this.enrolled.values()) for (const s of e.servers) s.close();
  }
}

/** `ip netns exec` takes a name: /run/netns/NAME -> NAME. */
function nsName(path: string): string {
  return basename(path);
}
