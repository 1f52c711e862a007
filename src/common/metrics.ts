import { Registry, Gauge, collectDefaultMetrics } from 'prom-client';

export { Registry };

/**
 * A fresh Prometheus registry per component instance (never the global one), so tests that run several
 * proxies in one process do not mix their numbers. `istio_build` is registered as Istio's proxies do.
 */
export function createRegistry(component: string, opts: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  const build = new Gauge({
    name: 'istio_build',
    help: 'Istio component build info',
    labelNames: ['component', 'tag'],
    registers: [registry],
  });
  build.set({ component, tag: VERSION }, 1);
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry });
  return registry;
}

export const VERSION = '0.1.0';
