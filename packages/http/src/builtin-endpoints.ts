/**
 * Endpoints every process serves about itself: `/health` for load balancers and orchestrators, and
 * `/_synapse/metrics` for Prometheus.
 */
import type { Registry } from 'prom-client';
import type { EndpointDecl, WorkerKind } from './manifest.ts';
import type { Handler } from './handler.ts';

const ALL_KINDS: readonly WorkerKind[] = ['main', 'generic_worker', 'federation_sender', 'pusher', 'media_repository'];

export const builtinEndpoints: EndpointDecl[] = [
  { name: 'health', method: 'GET', path: '/health', resource: 'health', workers: ALL_KINDS, auth: 'none' },
  { name: 'metrics', method: 'GET', path: '/_synapse/metrics', resource: 'metrics', workers: ALL_KINDS, auth: 'none' },
];

export interface BuiltinOptions {
  readonly registry: Registry;
  /** False while starting up or draining: the load balancer should send traffic elsewhere. */
  readonly isHealthy: () => boolean;
}

export function createBuiltinHandlers(opts: BuiltinOptions): Map<string, Handler> {
  return new Map<string, Handler>([
    [
      'health',
      ({ res }) => {
        const ok = opts.isHealthy();
        res.status(ok ? 200 : 503).type('text/plain').send(ok ? 'OK' : 'UNAVAILABLE');
        return undefined;
      },
    ],
    [
      'metrics',
      async ({ res }) => {
        const text = await opts.registry.metrics();
        res.status(200).type(opts.registry.contentType).send(text);
        return undefined;
      },
    ],
  ]);
}
