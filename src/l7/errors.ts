/**
 * Every locally generated response in one place, with Envoy's status, body, response flag and
 * response-code details, so the client, the access log and the metrics tell the same story.
 */
export type LocalReply =
  | 'no_route'
  | 'no_cluster'
  | 'no_healthy_upstream'
  | 'connect_failure'
  | 'upstream_reset'
  | 'upstream_timeout'
  | 'fault_abort'
  | 'overflow'
  | 'bad_request'
  | 'protocol_error';

export interface LocalReplyInfo {
  status: number;
  body: string;
  flag: string;
  details: string;
}

const RESET = 'upstream connect error or disconnect/reset before headers. reset reason: ';

export const LOCAL_REPLIES: Readonly<Record<LocalReply, LocalReplyInfo>> = {
  no_route: { status: 404, body: '', flag: 'NR', details: 'route_not_found' },
  no_cluster: { status: 503, body: 'no healthy upstream', flag: 'NC', details: 'cluster_not_found' },
  no_healthy_upstream: {
    status: 503,
    body: 'no healthy upstream',
    flag: 'UH',
    details: 'no_healthy_upstream',
  },
  connect_failure: {
    status: 503,
    body: `${RESET}connection failure`,
    flag: 'UF',
    details: 'upstream_reset_before_response_started{connection_failure}',
  },
  upstream_reset: {
    status: 503,
    body: `${RESET}connection termination`,
    flag: 'UC',
    details: 'upstream_reset_before_response_started{connection_termination}',
  },
  upstream_timeout: {
    status: 504,
    body: 'upstream request timeout',
    flag: 'UT',
    details: 'upstream_response_timeout',
  },
  fault_abort: { status: 503, body: 'fault filter abort', flag: 'FI', details: 'fault_filter_abort' },
  overflow: {
    status: 503,
    body: `${RESET}overflow`,
    flag: 'UO',
    details: 'upstream_reset_before_response_started{overflow}',
  },
  bad_request: { status: 400, body: 'Bad Request', flag: 'DPE', details: 'http1.codec_error' },
  protocol_error: {
    status: 503,
    body: `${RESET}protocol error`,
    flag: 'UPE',
    details: 'upstream_reset_before_response_started{protocol_error}',
  },
};
