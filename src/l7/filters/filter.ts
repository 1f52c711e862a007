/**
 * Envoy's model: an ordered chain of HTTP filters built once per config push and run per request,
 * the router last. A filter returns true to pass the request on, false when it answered it.
 */
import type { Exchange } from '../http/exchange.js';

export interface HttpFilter {
  readonly name: string;
  onRequest(ex: Exchange): boolean | Promise<boolean>;
}

export class FilterChain {
  constructor(readonly filters: readonly HttpFilter[]) {}

  async run(ex: Exchange): Promise<void> {
    for (const f of this.filters) {
      const r = f.onRequest(ex);
      const go = typeof r === 'boolean' ? r : await r;
      if (!go || ex.done) return;
    }
  }
}
