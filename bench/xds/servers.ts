/**
 * The two server set-ups of the xDS benchmark, behind one shape:
 *
 * - `index`: the whole istiod (`Istiod`: MemorySource -> ConfigStore -> AmbientIndex -> delta xDS),
 *   fed with synthetic configuration objects; a pod change is a changed Pod object.
 * - `resources`: the delta xDS server alone, fed with pre-built resources; a pod change is a new
 *   Address given to `apply()`.
 */
import type { Registry } from 'prom-client';
import { silentLogger } from '../../src/common/logger.js';
import { createRegistry } from '../../src/common/metrics.js';
import { Istiod } from '../../src/istiod/app.js';
import { DeltaXdsServer } from '../../src/istiod/xds/delta-server.js';
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL } from '../../src/xds/type-urls.js';
import { MemorySource, syntheticMesh, syntheticPod, type MeshScale } from './synthetic-mesh.js';
import { podAddress, policy, serviceAddress } from './synthetic-resources.js';

export type ServerMode = 'index' | 'resources';

export interface BenchServer {
  port: number;
  /** Wall time until the initial state was ready to push (index: source sync + index + encode). */
  loadMs: number;
  /** Index mode: the index's own share of loadMs, and the share spent encoding for the xDS server. */
  indexBuildMs?: number;
  encodeMs?: number;
  addresses: number;
  policies: number;
  /** Changes pod `i` (revision `rev`); returns its resource name. */
  changePod(i: number, rev: number): string;
  stop(): Promise<void>;
}

async function histogramSum(
  registry: Registry,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get();
  const v = m?.values.find(
    (x) =>
      (x as { metricName?: string }).metricName === `${name}_sum` &&
      Object.entries(labels).every(([k, val]) => x.labels[k] === val),
  );
  return v?.value ?? NaN;
}

export async function startServer(mode: ServerMode, scale: MeshScale): Promise<BenchServer> {
  return mode === 'index' ? startIstiod(scale) : startXdsOnly(scale);
}

async function startIstiod(scale: MeshScale): Promise<BenchServer> {
  const objects = syntheticMesh(scale);
  const source = new MemorySource(objects);
  const registry = createRegistry('istiod');
  const istiod = new Istiod({
    source,
    xdsAddress: { host: '127.0.0.1', port: 0 },
    registry,
    logger: silentLogger(),
  });
  const started = performance.now();
  await istiod.start();
  await istiod.whenReady();
  const loadMs = performance.now() - started;
  const indexBuildMs =
    (await histogramSum(registry, 'istiod_index_compute_seconds', { phase: 'initial' })) * 1000;
  const encodeMs = (await histogramSum(registry, 'istiod_xds_prepare_seconds', { phase: 'initial' })) * 1000;
  return {
    port: istiod.ports.xds,
    loadMs,
    indexBuildMs,
    encodeMs,
    addresses: istiod.xds.store(ADDRESS_TYPE_URL)?.size ?? 0,
    policies: istiod.xds.store(AUTHORIZATION_TYPE_URL)?.size ?? 0,
    changePod: (i, rev) => {
      const pod = syntheticPod(i, scale, rev);
      source.change(pod);
      return `Kubernetes//Pod/${pod.metadata.namespace}/${pod.metadata.name}`;
    },
    stop: () => istiod.stop(),
  };
}

async function startXdsOnly(scale: MeshScale): Promise<BenchServer> {
  const server = new DeltaXdsServer({ host: '127.0.0.1', port: 0, registry: createRegistry('istiod') });
  const port = await server.start();
  const started = performance.now();
  const upserts: Array<{ name: string; message: object }> = [];
  for (let i = 0; i < scale.pods; i++) {
    const a = podAddress(i, 0, scale);
    upserts.push({ name: a.workload?.uid ?? '', message: a });
  }
  for (let s = 0; s < scale.services; s++) {
    const a = serviceAddress(s);
    upserts.push({ name: `${a.service?.namespace}/${a.service?.hostname}`, message: a });
  }
  server.apply(ADDRESS_TYPE_URL, { upserts, removals: [] });
  server.apply(AUTHORIZATION_TYPE_URL, {
    upserts: Array.from({ length: scale.policies }, (_, p) => ({
      name: `ns-${p % 50}/allow-${p}`,
      message: policy(p),
    })),
    removals: [],
  });
  server.flushNow();
  return {
    port,
    loadMs: performance.now() - started,
    addresses: server.store(ADDRESS_TYPE_URL)?.size ?? 0,
    policies: server.store(AUTHORIZATION_TYPE_URL)?.size ?? 0,
    changePod: (i, rev) => {
      const a = podAddress(i, rev, scale);
      const name = a.workload?.uid ?? '';
      server.apply(ADDRESS_TYPE_URL, { upserts: [{ name, message: a }], removals: [] });
      return name;
    },
    stop: () => server.stop(1000),
  };
}
