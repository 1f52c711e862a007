import net from 'node:net';
import type { Logger } from '../common/logger.js';
import { errorMessage } from '../common/errors.js';
import type { Workload } from './state/types.js';

/** The listeners ztunnel runs for one pod: in-pod mode opens them inside the pod's network namespace. */
export interface PodListenerSet {
  uid: string;
  servers: net.Server[];
}

export interface PodListenerHandlers {
  /** An HBONE connection for `pod` (TLS not yet done). */
  hbone(socket: net.Socket, pod: Workload): void;
  /** A plaintext inbound connection for `pod` with its original destination. */
  plaintext(socket: net.Socket, pod: Workload, origDst: { ip: string; port: number }): void;
}

/**
 * Loopback mode: a pod is an IP on this host (any 127.0.0.0/8 address works without root), its app
 * listens on that IP, and ztunnel opens the pod's HBONE listener on <pod IP>:15008 and its inbound
 * plaintext listener on <pod IP>:15006 — the same per-pod shape as Istio's in-pod mode, minus the
 * kernel capture. Without capture the plaintext listener cannot learn which app port a client meant:
 * it forwards to the pod's first service target port (documented limitation of loopback mode).
 */
export class LoopbackPodListeners {
  private readonly sets = new Map<string, PodListenerSet & { ips: string }>();
  private readonly log: Logger;
  private readonly handlers: PodListenerHandlers;
  private readonly ports: { hbone: number; plaintext: number };

  constructor(log: Logger, handlers: PodListenerHandlers, ports: { hbone: number; plaintext: number }) {
    this.log = log;
    this.handlers = handlers;
    this.ports = ports;
  }

  get size(): number {
    return this.sets.size;
  }

  describe(): Array<{ uid: string; addresses: string[] }> {
    return [...this.sets.values()].map((s) => ({
      uid: s.uid,
      addresses: s.servers.map((srv) => {
        const a = srv.address() as net.AddressInfo | null;
        return a ? `${a.address}:${a.port}` : 'closed';
      }),
    }));
  }

  /** Opens listeners for new local pods, closes those of pods that left (or changed IPs). */
  async reconcile(pods: Iterable<Workload>, lookup: (uid: string) => Workload | undefined): Promise<void> {
    const want = new Map<string, Workload>();
    for (const p of pods) if (p.ips.length > 0) want.set(p.uid, p);
    for (const [uid, set] of this.sets) {
      const p = want.get(uid);
      if (!p || p.ips.join(',') !== set.ips) {
        this.sets.delete(uid);
        for (const s of set.servers) s.close();
      }
    }
    const opening: Promise<void>[] = [];
    for (const [uid, pod] of want) {
      if (this.sets.has(uid)) continue;
      const set = { uid, servers: [] as net.Server[], ips: pod.ips.join(',') };
      this.sets.set(uid, set);
      for (const ip of pod.ips) {
        const current = (): Workload => lookup(uid) ?? pod;
        opening.push(this.open(set.servers, ip, this.ports.hbone, (s) => this.handlers.hbone(s, current())));
        opening.push(
          this.open(set.servers, ip, this.ports.plaintext, (s) => {
            const p = current();
            const port = firstTargetPort(p);
            if (port === undefined) {
              this.log.warn(
                { pod: `${p.namespace}/${p.name}` },
                'inbound plaintext: the pod has no service port to forward to (loopback mode)',
              );
              s.destroy();
              return;
            }
            this.handlers.plaintext(s, p, { ip, port });
          }),
        );
      }
    }
    await Promise.all(opening);
  }

  closeAll(): void {
    for (const set of this.sets.values()) for (const s of set.servers) s.close();
    this.sets.clear();
  }

  private open(into: net.Server[], ip: string, port: number, onConn: (s: net.Socket) => void): Promise<void> {
    const srv = net.createServer({ allowHalfOpen: true, noDelay: true }, onConn);
    into.push(srv);
    return new Promise((resolve) => {
      srv.once('error', (err) => {
        this.log.error(
          { ip, port, err: errorMessage(err) },
          `cannot listen on ${ip}:${port} for a local pod; is the pod IP on this host?`,
        );
        resolve();
      });
      srv.listen(port, ip, () => resolve());
    });
  }
}

function firstTargetPort(w: Workload): number | undefined {
  for (const ports of w.services.values())
    for (const [svcPort, target] of ports) return target > 0 ? target : svcPort;
  return undefined;
}
