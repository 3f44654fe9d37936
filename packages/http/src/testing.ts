/**
 * Test support: serve a set of endpoints on a loopback port through the real listener app (same
 * error envelope, body parsing, schemas and auth path as production).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { silentLogger } from '@hs/core';
import { createListenerApp } from './app.ts';
import type { Authenticator, Handler } from './handler.ts';
import { Manifest, type EndpointDecl, type Resource } from './manifest.ts';
import { createHttpMetrics, createMetricsRegistry } from './metrics.ts';

export interface TestApp {
  readonly baseUrl: string;
  close(): Promise<void>;
}

export async function startTestApp(opts: {
  endpoints: readonly EndpointDecl[];
  handlers: ReadonlyMap<string, Handler>;
  authenticate?: Authenticator;
  resources?: readonly Resource[];
}): Promise<TestApp> {
  const app = createListenerApp({
    manifest: new Manifest(opts.endpoints),
    handlers: opts.handlers,
    kind: 'main',
    resources: new Set(opts.resources ?? ['client', 'federation', 'keys', 'media', 'admin', 'health']),
    instance: 'test',
    log: silentLogger,
    metrics: createHttpMetrics(createMetricsRegistry('test')),
    ...(opts.authenticate ? { authenticate: opts.authenticate } : {}),
  });
  const server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
