/**
 * istiod's sidecar injection webhook (Istio's `https-webhooks` port 15017, path `/inject`): HTTPS with
 * a serving certificate its own CA issues (istiod.istio-system.svc, renewed at half-life and on a root
 * change), answering the API server's AdmissionReview (admission.k8s.io/v1, or v1beta1 as older API
 * servers may send) for pod CREATE with a JSON patch (pod-patch.ts). A request it cannot read gets
 * HTTP 400; a pod it cannot inject is refused with the reason (the MutatingWebhookConfiguration's
 * failurePolicy decides what the API server does when the webhook cannot be reached).
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, type Registry } from 'prom-client';
import { errorMessage } from '../../common/errors.js';
import { silentLogger, type Logger } from '../../common/logger.js';
import { generateKeyPair, privateKeyPem } from '../../pki/keys.js';
import type { IstiodCa } from '../ca/istiod-ca.js';
import { injectionPatch, type InjectionSettings, type PodIn } from './pod-patch.js';

const REVIEW_VERSIONS = ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'];
const MAX_BODY = 4 * 1024 * 1024;

export interface InjectionWebhookOptions {
  ca: IstiodCa;
  settings: InjectionSettings;
  host: string;
  /** 0 picks a free port (see `port` after start). Istio: 15017. */
  port: number;
  /** Names in the serving certificate; default istiod.istio-system.svc and short forms. */
  dnsNames?: string[];
  /** Default 24 h. */
  validityMs?: number;
  logger?: Logger;
  registry?: Registry;
}

interface Review {
  apiVersion?: string;
  kind?: string;
  request?: {
    uid?: string;
    kind?: { kind?: string };
    operation?: string;
    namespace?: string;
    object?: PodIn;
    dryRun?: boolean;
  };
}

export class InjectionWebhook {
  private readonly server: Server;
  private readonly log: Logger;
  private readonly dnsNames: string[];
  private readonly validityMs: number;
  private readonly metrics: Record<'requests' | 'success' | 'skip' | 'failure', Counter> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  port = 0;
  /** The PEM chain presented (leaf first). */
  certificatePem = '';

  constructor(private readonly o: InjectionWebhookOptions) {
    this.log = o.logger ?? silentLogger();
    this.dnsNames = o.dnsNames ?? ['istiod.istio-system.svc', 'istiod.istio-system', 'istiod'];
    this.validityMs = o.validityMs ?? 24 * 3600 * 1000;
    const counter = (name: string, help: string) =>
      new Counter({ name, help, registers: o.registry ? [o.registry] : [] });
    this.metrics = o.registry
      ? {
          requests: counter('sidecar_injection_requests_total', 'Injection requests received'),
          success: counter('sidecar_injection_success_total', 'Pods injected'),
          skip: counter('sidecar_injection_skip_total', 'Pods the webhook left alone'),
          failure: counter('sidecar_injection_failure_total', 'Injection requests that failed'),
        }
      : undefined;
    this.server = createServer({ ...this.issue(), minVersion: 'TLSv1.2' }, (req, res) =>
      this.handle(req, res),
    );
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.o.port, this.o.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
    this.unsubscribe = this.o.ca.onRootsChange(() => this.renew());
    this.log.info({ port: this.port, dnsNames: this.dnsNames }, 'sidecar injection webhook listening');
    return this.port;
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.unsubscribe?.();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** A fresh key and certificate; renewed at half its lifetime. */
  private issue(): { cert: string; key: string } {
    const { privateKey, publicKey } = generateKeyPair();
    const chain = this.o.ca.signServing(publicKey, this.dnsNames, [], this.validityMs);
    const presented = chain.length > 1 ? chain.slice(0, -1) : chain;
    this.certificatePem = presented.join('');
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.renew(), Math.min(this.validityMs / 2, 2 ** 31 - 1));
    this.timer.unref();
    return { cert: this.certificatePem, key: privateKeyPem(privateKey) };
  }

  private renew(): void {
    this.server.setSecureContext({ ...this.issue(), minVersion: 'TLSv1.2' });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/inject' || req.method !== 'POST') {
      reply(404, { error: `${req.method} ${path}: this port serves POST /inject` });
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reply(413, { error: `AdmissionReview larger than ${MAX_BODY} bytes` });
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => {
      if (size > MAX_BODY) return;
      this.metrics?.requests.inc();
      let review: Review;
      try {
        review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Review;
      } catch (err) {
        this.metrics?.failure.inc();
        reply(400, { error: `the body is not JSON: ${errorMessage(err)}` });
        return;
      }
      const problem = this.checkReview(review);
      if (problem) {
        this.metrics?.failure.inc();
        this.log.warn({ problem }, 'sidecar injection: unreadable AdmissionReview');
        reply(400, { error: problem });
        return;
      }
      reply(200, { apiVersion: review.apiVersion, kind: 'AdmissionReview', response: this.review(review) });
    });
  }

  private checkReview(r: Review): string | undefined {
    if (r?.kind !== 'AdmissionReview') return `expected kind AdmissionReview, got ${JSON.stringify(r?.kind)}`;
    if (!REVIEW_VERSIONS.includes(r.apiVersion ?? ''))
      return `apiVersion ${JSON.stringify(r.apiVersion)} is not one of ${REVIEW_VERSIONS.join(', ')}`;
    if (typeof r.request?.uid !== 'string' || r.request.uid === '') return 'request.uid is required';
    return undefined;
  }

  private review(r: Review): Record<string, unknown> {
    const req = r.request!;
    const uid = req.uid!;
    const namespace = req.namespace ?? req.object?.metadata?.namespace ?? 'default';
    const pod = `${namespace}/${req.object?.metadata?.name ?? req.object?.metadata?.generateName ?? '?'}`;
    if (req.kind?.kind !== 'Pod' || req.operation !== 'CREATE' || !req.object) {
      this.metrics?.skip.inc();
      return { uid, allowed: true };
    }
    try {
      const out = injectionPatch(req.object, namespace, this.o.settings);
      if ('skip' in out) {
        this.metrics?.skip.inc();
        this.log.debug({ pod, why: out.skip }, 'sidecar injection: skipped');
        return { uid, allowed: true };
      }
      this.metrics?.success.inc();
      this.log.info({ pod, dryRun: req.dryRun === true }, 'sidecar injection: injected');
      return {
        uid,
        allowed: true,
        patchType: 'JSONPatch',
        patch: Buffer.from(JSON.stringify(out.patch)).toString('base64'),
        ...(out.warnings.length
          ? { warnings: out.warnings.map((w) => `sidecar injection ignored ${w}`) }
          : {}),
      };
    } catch (err) {
      this.metrics?.failure.inc();
      this.log.error({ pod, err: errorMessage(err) }, 'sidecar injection failed');
      return {
        uid,
        allowed: false,
        status: { code: 500, message: `sidecar injection failed: ${errorMessage(err)}` },
      };
    }
  }
}
