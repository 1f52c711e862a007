/** Whether an attempt's outcome is retried under a policy (Envoy's `retry_on` conditions), and backoff. */
import type { RetryPolicy } from '../model.js';

export interface AttemptOutcome {
  /** Set when no response headers came: the connection failed, was reset or refused, or the try timed out. */
  failure?: 'connect' | 'reset' | 'refused' | 'timeout' | 'protocol';
  status?: number;
  /** gRPC status in the response headers (trailers-only responses). */
  grpcStatus?: string;
}

const GRPC: Record<string, string> = {
  cancelled: '1',
  'deadline-exceeded': '4',
  'resource-exhausted': '8',
  unavailable: '14',
  internal: '13',
};

export function shouldRetry(p: RetryPolicy, o: AttemptOutcome): boolean {
  for (const cond of p.retryOn) {
    switch (cond) {
      case '5xx':
        if (o.failure !== undefined || (o.status ?? 0) >= 500) return true;
        break;
      case 'gateway-error':
        if (o.failure === 'timeout' || o.status === 502 || o.status === 503 || o.status === 504) return true;
        break;
      case 'reset':
      case 'reset-before-request':
        if (o.failure !== undefined && o.failure !== 'timeout') return true;
        break;
      case 'connect-failure':
        if (o.failure === 'connect') return true;
        break;
      case 'refused-stream':
        if (o.failure === 'refused') return true;
        break;
      case 'retriable-4xx':
        if (o.status === 409) return true;
        break;
      case 'retriable-status-codes':
        if (o.status !== undefined && (p.codes ?? []).includes(o.status)) return true;
        break;
      default: {
        const code = GRPC[cond];
        if (code !== undefined && o.grpcStatus === code) return true;
        // A bare status code in retryOn (Istio accepts "503") is a retriable status code.
        if (/^\d{3}$/.test(cond) && o.status === Number(cond)) return true;
      }
    }
  }
  return false;
}

/** Envoy's backoff: random in [0, base·2^(n-1)], capped at 10× base. */
export function backoffMs(p: RetryPolicy, retry: number, random: () => number): number {
  const base = p.backoffMs ?? 25;
  const max = Math.min(base * 2 ** (retry - 1), base * 10);
  return Math.floor(random() * max);
}
