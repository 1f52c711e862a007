/** Why an upstream attempt produced no response; the router maps it to Envoy's reply and flag. */
export type UpstreamFailure = 'connect' | 'reset' | 'refused' | 'protocol';

export class UpstreamError extends Error {
  readonly failure: UpstreamFailure;
  constructor(failure: UpstreamFailure, message: string) {
    super(message);
    this.failure = failure;
  }
}
