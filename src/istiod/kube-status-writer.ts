/**
 * On a cluster, istiod tells users on the object itself when it rejects one of the Istio kinds: the
 * status subresource gets condition `Accepted=False` (reason `Invalid`, the field and the problem as
 * message), and `Accepted=True` again once a fixed version is served. Objects never rejected get no
 * status write. Writes are serialized and retried on the next change of the issues.
 */
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { isDeepStrictEqual } from 'node:util';
import { errorMessage } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/logger.js';
import { kindInfoById, kindInfoFor } from './config/kinds.js';
import { kubeError, statusOf } from './config/kube-client.js';
import type { ConfigSource } from './config/source.js';
import type { ConfigIssue } from './config/validate.js';

export interface StatusCondition {
  type: string;
  status: 'True' | 'False';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

interface Served {
  metadata: { generation?: number; resourceVersion?: string };
  status?: { conditions?: StatusCondition[]; [k: string]: unknown };
  [k: string]: unknown;
}

/** The conditions after this verdict: Accepted replaced, others kept; undefined when nothing changes. */
export function acceptedConditions(
  prev: StatusCondition[] | undefined,
  problems: readonly string[],
  generation: number | undefined,
  now: string,
): StatusCondition[] | undefined {
  const ok = problems.length === 0;
  const status = ok ? 'True' : 'False';
  const before = prev?.find((c) => c.type === 'Accepted');
  const next: StatusCondition = {
    type: 'Accepted',
    status,
    reason: ok ? 'Accepted' : 'Invalid',
    message: ok ? 'Resource accepted' : problems.join('; '),
    lastTransitionTime: before?.status === status ? before.lastTransitionTime : now,
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
  };
  if (before && isDeepStrictEqual(before, next)) return undefined;
  return [...(prev ?? []).filter((c) => c.type !== 'Accepted'), next];
}

export class KubeStatusWriter {
  private readonly api: CustomObjectsApi;
  private readonly log: Logger;
  /** Objects whose status says rejected (and must be told when fixed), key → problems. */
  private written = new Map<string, string[]>();
  private latest: readonly ConfigIssue[] = [];
  private running: Promise<void> | undefined;
  private again = false;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly kc: KubeConfig,
    private readonly source: ConfigSource,
    logger?: Logger,
  ) {
    this.api = kc.makeApiClient(CustomObjectsApi);
    this.log = logger ?? silentLogger();
  }

  start(): void {
    this.unsubscribe = this.source.subscribe({ issues: (i) => this.onIssues(i) });
    this.onIssues(this.source.issues());
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    await this.running;
  }

  /** Resolves when the writes for the issues seen so far are done (tests). */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  private onIssues(issues: readonly ConfigIssue[]): void {
    this.latest = issues;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.sync().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.onIssues(this.latest);
      }
    });
  }

  private async sync(): Promise<void> {
    const wanted = new Map<string, string[]>();
    for (const i of this.latest) {
      const info = i.kind ? kindInfoFor(i.group ? `${i.group}/v1` : 'v1', i.kind) : undefined;
      if (!info || !info.group.endsWith('.istio.io') || !i.namespace || !i.name) continue;
      const key = `${info.id}/${i.namespace}/${i.name}`;
      wanted.set(key, [...(wanted.get(key) ?? []), i.path ? `${i.path}: ${i.message}` : i.message]);
    }
    // Rejected now, or rejected before and now fixed (or gone).
    const keys = new Set([...wanted.keys(), ...this.written.keys()]);
    for (const key of keys) {
      const problems = wanted.get(key) ?? [];
      if (isDeepStrictEqual(this.written.get(key), problems)) continue;
      try {
        await this.write(key, problems);
        if (problems.length) this.written.set(key, problems);
        else this.written.delete(key);
      } catch (err) {
        this.log.warn(
          { object: key, err: errorMessage(err) },
          'could not write the status of a rejected object',
        );
      }
    }
  }

  private async write(key: string, problems: string[]): Promise<void> {
    const [id, namespace, name] = key.split('/') as [string, string, string];
    const info = kindInfoById(id)!;
    const kind = info.kind;
    const ref = { group: info.group, version: info.versions[0]!, namespace, plural: info.plural, name };
    let obj: Served;
    try {
      obj = (await this.api.getNamespacedCustomObject(ref)) as Served;
    } catch (err) {
      if (statusOf(err) === 404) return; // deleted: nothing to tell
      throw kubeError(err, `GET ${kind} ${namespace}/${name}`);
    }
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const conditions = acceptedConditions(obj.status?.conditions, problems, obj.metadata.generation, now);
    if (!conditions) return;
    try {
      await this.api.replaceNamespacedCustomObjectStatus({
        ...ref,
        body: { ...obj, status: { ...(obj.status ?? {}), conditions } },
      });
    } catch (err) {
      throw kubeError(err, `PUT ${kind} ${namespace}/${name}/status`);
    }
    this.log.info(
      { object: key, accepted: problems.length === 0 },
      'wrote the status of a configuration object',
    );
  }
}
