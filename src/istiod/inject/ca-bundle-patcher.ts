/**
 * Keeps istiod's root bundle in the `caBundle` of its MutatingWebhookConfiguration
 * (`istio-sidecar-injector`; every webhook in it), so the API server trusts the webhook's serving
 * certificate: at start, whenever the configuration changes (someone reset it, a reinstall) and when
 * the CA's roots change. GET then PUT with the read resourceVersion (a conflict is retried on the next
 * event or the retry timer); failures are logged and retried with backoff.
 */
import { errorMessage } from '../../common/errors.js';
import { silentLogger, type Logger } from '../../common/logger.js';
import { requestJson, statusOf, type KubeConfig } from '../config/kube-client.js';
import { KubeInformer, type RawObject } from '../config/kube-informer.js';
import type { IstiodCa } from '../ca/istiod-ca.js';

export const INJECTOR_WEBHOOK_CONFIG = 'istio-sidecar-injector';
const COLLECTION = '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations';

interface WebhookConfig {
  metadata: { name: string; resourceVersion?: string };
  webhooks?: Array<{ name: string; clientConfig?: { caBundle?: string } }>;
}

export interface CaBundlePatcherOptions {
  kubeConfig: KubeConfig;
  ca: IstiodCa;
  /** Default istio-sidecar-injector. */
  name?: string;
  logger?: Logger;
  backoffMs?: { initial: number; max: number };
}

export class CaBundlePatcher {
  private readonly log: Logger;
  private readonly name: string;
  private readonly informer: KubeInformer;
  private unsubscribe: (() => void) | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private failures = 0;
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Writes done (tests, logs). */
  patches = 0;

  constructor(private readonly o: CaBundlePatcherOptions) {
    this.log = o.logger ?? silentLogger();
    this.name = o.name ?? INJECTOR_WEBHOOK_CONFIG;
    this.informer = new KubeInformer(
      o.kubeConfig,
      COLLECTION,
      {
        listed: () => this.kick(),
        event: (_type, obj: RawObject) => obj.metadata?.name === this.name && this.kick(),
        error: (err, retryInMs) =>
          this.log.warn(
            { err: errorMessage(err), retryInMs },
            'caBundle patcher: watching webhook configurations failed',
          ),
      },
      { backoffMs: o.backoffMs ?? { initial: 500, max: 30_000 }, idleTimeoutMs: 300_000 },
    );
  }

  /** The caBundle every webhook should carry: the CA's roots, base64 PEM. */
  get wanted(): string {
    return Buffer.from(this.o.ca.rootBundlePem()).toString('base64');
  }

  start(): void {
    this.stopped = false;
    this.unsubscribe = this.o.ca.onRootsChange(() => this.kick());
    this.informer.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    this.unsubscribe?.();
    await this.informer.stop();
    await this.running;
  }

  /** Resolves when no write is running or queued (tests). */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  private kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.sync().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  private async sync(): Promise<void> {
    const path = `${COLLECTION}/${this.name}`;
    try {
      let cfg: WebhookConfig;
      try {
        cfg = await requestJson<WebhookConfig>(this.o.kubeConfig, 'GET', path);
      } catch (err) {
        if (statusOf(err) === 404) return; // not installed: patched when it appears (watch)
        throw err;
      }
      const want = this.wanted;
      const hooks = cfg.webhooks ?? [];
      if (hooks.every((w) => w.clientConfig?.caBundle === want)) {
        this.failures = 0;
        return;
      }
      for (const w of hooks) w.clientConfig = { ...(w.clientConfig ?? {}), caBundle: want };
      await requestJson(this.o.kubeConfig, 'PUT', path, cfg);
      this.patches++;
      this.failures = 0;
      this.log.info(
        { config: this.name, webhooks: hooks.length },
        'patched the caBundle of the injection webhook',
      );
    } catch (err) {
      this.failures++;
      const b = this.o.backoffMs ?? { initial: 500, max: 30_000 };
      const delay = Math.min(b.initial * 2 ** (this.failures - 1), b.max);
      this.log.warn({ config: this.name, err: errorMessage(err), retryInMs: delay }, 'caBundle patch failed');
      clearTimeout(this.retry);
      this.retry = setTimeout(() => this.kick(), delay);
      this.retry.unref();
    }
  }
}
