import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { TcpMetrics } from '../../../../src/ztunnel/telemetry/metrics.js';

test('connection metrics use Istio names and labels, with bytes counted at close', async () => {
  const registry = new Registry();
  const m = new TcpMetrics(registry);
  const labels = m.open({
    reporter: 'source',
    source: {
      workload: 'curl',
      namespace: 'default',
      principal: 'spiffe://cluster.local/ns/default/sa/curl',
      canonicalService: 'curl',
    },
    destination: {
      workload: 'echo',
      namespace: 'default',
      principal: 'spiffe://cluster.local/ns/default/sa/echo',
    },
    service: { hostname: 'echo.default.svc.cluster.local', namespace: 'default', name: 'echo' },
    mtls: true,
  });
  m.close(labels, 100, 2500);
  m.fail({
    reporter: 'destination',
    source: {},
    destination: { workload: 'echo' },
    mtls: true,
    responseFlags: 'UAEX',
  });
  const text = await registry.metrics();
  assert.match(
    text,
    /istio_tcp_connections_opened_total\{reporter="source",source_workload="curl",.*source_principal="spiffe:\/\/cluster.local\/ns\/default\/sa\/curl".*destination_service="echo.default.svc.cluster.local".*connection_security_policy="mutual_tls"\} 1/,
  );
  assert.match(text, /istio_tcp_sent_bytes_total\{reporter="source".*\} 100/);
  assert.match(text, /istio_tcp_received_bytes_total\{reporter="source".*\} 2500/);
  assert.match(
    text,
    /istio_tcp_connections_failed_total\{reporter="destination",.*response_flags="UAEX".*\} 1/,
  );
  assert.match(text, /request_protocol="tcp"/);
});
