/**
 * One prom-client registry per process, every series labelled with the instance name so a fleet's
 * metrics can be told apart. Names follow Synapse's where one exists, so dashboards carry over.
 */
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

export interface HttpMetrics {
  readonly registry: Registry;
  readonly requests: Counter<'method' | 'servlet'>;
  readonly responses: Counter<'method' | 'servlet' | 'code'>;
  readonly responseTime: Histogram<'method' | 'servlet' | 'code'>;
}

export function createMetricsRegistry(instance: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ instance });
  collectDefaultMetrics({ register: registry });
  return registry;
}

export function createHttpMetrics(registry: Registry): HttpMetrics {
  return {
    registry,
    requests: new Counter({
      name: 'synapse_http_server_requests_received_total',
      help: 'HTTP requests received, by method and endpoint',
      labelNames: ['method', 'servlet'],
      registers: [registry],
    }),
    responses: new Counter({
      name: 'synapse_http_server_responses_total',
      help: 'HTTP responses sent, by method, endpoint and status code',
      labelNames: ['method', 'servlet', 'code'],
      registers: [registry],
    }),
    responseTime: new Histogram({
      name: 'synapse_http_server_response_time_seconds',
      help: 'Time to produce a response',
      labelNames: ['method', 'servlet', 'code'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
  };
}
