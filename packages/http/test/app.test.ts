import test from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import http from 'node:http';
import { errors, silentLogger } from '@hs/core';
import { createListenerApp } from '../src/app.ts';
import type { Handler } from '../src/handler.ts';
import { Manifest, type EndpointDecl } from '../src/manifest.ts';
import { createHttpMetrics, createMetricsRegistry } from '../src/metrics.ts';
import { builtinEndpoints, createBuiltinHandlers } from '../src/builtin-endpoints.ts';

const decls: EndpointDecl[] = [
  ...builtinEndpoints,
  { name: 'echo', method: 'POST', path: '/_matrix/client/{v}/echo/{thing}', params: { v: 'v3|r0' }, resource: 'client', workers: ['main'], auth: 'none' },
  { name: 'get_thing', method: 'GET', path: '/_matrix/client/v3/things/{id}', resource: 'client', workers: ['main'], auth: 'none' },
  { name: 'boom', method: 'GET', path: '/_matrix/client/v3/boom', resource: 'client', workers: ['main'], auth: 'none' },
  { name: 'pg_nul', method: 'GET', path: '/_matrix/client/v3/pg_nul', resource: 'client', workers: ['main'], auth: 'none' },
  { name: 'forbidden', method: 'GET', path: '/_matrix/client/v3/forbidden', resource: 'client', workers: ['main'], auth: 'none' },
  { name: 'fed_only', method: 'GET', path: '/_matrix/federation/v1/version', resource: 'federation', workers: ['main'], auth: 'none' },
  { name: 'worker_only', method: 'GET', path: '/_matrix/client/v3/worker', resource: 'client', workers: ['generic_worker'], auth: 'none' },
];

const registry = createMetricsRegistry('test-instance');
const handlers = new Map<string, Handler>([
  ...createBuiltinHandlers({ registry, isHealthy: () => true }),
  ['echo', (ctx) => ({ body: { params: ctx.params, body: ctx.body as Record<string, unknown> } })],
  ['get_thing', (ctx) => ({ body: { id: ctx.params.id ?? null } })],
  [
    'boom',
    () => {
      throw new Error('secret internal detail');
    },
  ],
  [
    'pg_nul',
    () => {
      // What postgres.js throws when a jsonb value holds \u0000.
      throw Object.assign(new Error('unsupported Unicode escape sequence'), { code: '22P05' });
    },
  ],
  [
    'forbidden',
    () => {
      throw errors.forbidden('no');
    },
  ],
]);

let server: http.Server;
let base: string;
test.before(async () => {
  const app = createListenerApp({
    manifest: new Manifest(decls),
    handlers,
    kind: 'main',
    resources: new Set(['client', 'health', 'metrics']),
    instance: 'test-instance',
    log: silentLogger,
    metrics: createHttpMetrics(registry),
    maxJsonBytes: 1024,
  });
  server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
test.after(() => new Promise<void>((r) => server.close(() => r())));

async function call(method: string, path: string, body?: string, headers: Record<string, string> = {}) {
  const res = await fetch(base + path, { method, body, headers: { 'content-type': 'application/json', ...headers } });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json: json as Record<string, unknown>, headers: res.headers };
}

test('dispatches to handlers with decoded params and parsed bodies', async () => {
  const r = await call('POST', '/_matrix/client/r0/echo/a%2Fb%20c', '{"x":1}');
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { params: { v: 'r0', thing: 'a/b c' }, body: { x: 1 } });
  const g = await call('GET', '/_matrix/client/v3/things/%24ev');
  assert.deepEqual(g.json, { id: '$ev' });
});

test('unknown paths → 404 M_UNRECOGNIZED; wrong method → 405; param outside its alternatives → 404', async () => {
  const a = await call('GET', '/_matrix/client/v3/nothing-here');
  assert.equal(a.status, 404);
  assert.equal(a.json.errcode, 'M_UNRECOGNIZED');
  const b = await call('DELETE', '/_matrix/client/v3/things/1');
  assert.equal(b.status, 405);
  assert.equal(b.json.errcode, 'M_UNRECOGNIZED');
  const c = await call('POST', '/_matrix/client/v9/echo/x', '{}');
  assert.equal(c.status, 404);
});

test('endpoints of other resources or other process kinds are not served here', async () => {
  assert.equal((await call('GET', '/_matrix/federation/v1/version')).status, 404);
  assert.equal((await call('GET', '/_matrix/client/v3/worker')).status, 404);
});

test('malformed JSON → 400 M_NOT_JSON; non-object JSON → 400 M_BAD_JSON; oversize → 413 M_TOO_LARGE', async () => {
  const bad = await call('POST', '/_matrix/client/v3/echo/x', '{"x":');
  assert.equal(bad.status, 400);
  assert.equal(bad.json.errcode, 'M_NOT_JSON');
  const arr = await call('POST', '/_matrix/client/v3/echo/x', '[1,2]');
  assert.equal(arr.status, 400);
  assert.equal(arr.json.errcode, 'M_BAD_JSON');
  const big = await call('POST', '/_matrix/client/v3/echo/x', JSON.stringify({ x: 'y'.repeat(5000) }));
  assert.equal(big.status, 413);
  assert.equal(big.json.errcode, 'M_TOO_LARGE');
  const bad2 = await call('GET', '/_matrix/client/v3/things/%E0%A4%A');
  assert.equal(bad2.status, 400);
  assert.equal(bad2.json.errcode, 'M_INVALID_PARAM');
});

test('handler failures: MatrixError passes through; anything else is a bare 500 M_UNKNOWN', async () => {
  const f = await call('GET', '/_matrix/client/v3/forbidden');
  assert.equal(f.status, 403);
  assert.deepEqual(f.json, { errcode: 'M_FORBIDDEN', error: 'no' });
  const b = await call('GET', '/_matrix/client/v3/boom');
  assert.equal(b.status, 500);
  assert.equal(b.json.errcode, 'M_UNKNOWN');
  assert.ok(!b.text.includes('secret internal detail'));
  assert.ok(!b.text.includes(' at '));
});

test('CORS on client paths, including preflights for paths this process does not serve', async () => {
  const r = await call('GET', '/_matrix/client/v3/things/1');
  assert.equal(r.headers.get('access-control-allow-origin'), '*');
  const pre = await call('OPTIONS', '/_matrix/client/v3/anything/at/all');
  assert.equal(pre.status, 200);
  assert.match(pre.headers.get('access-control-allow-headers') ?? '', /Authorization/);
  assert.equal((await call('OPTIONS', '/elsewhere')).status, 404);
});

test('health and metrics, with the instance label and per-endpoint counters', async () => {
  const h = await call('GET', '/health');
  assert.equal(h.status, 200);
  assert.equal(h.text, 'OK');
  await call('GET', '/_matrix/client/v3/things/1');
  const m = await call('GET', '/_synapse/metrics');
  assert.equal(m.status, 200);
  assert.match(m.text, /synapse_http_server_requests_received_total\{method="GET",servlet="get_thing",instance="test-instance"\} \d+/);
  assert.match(m.text, /process_cpu_user_seconds_total\{instance="test-instance"\}/);
});


test('input Postgres cannot store (U+0000) is a 400 M_BAD_JSON, not a 500', async () => {
  const r = await call('GET', '/_matrix/client/v3/pg_nul');
  assert.equal(r.status, 400);
  assert.equal(r.json.errcode, 'M_BAD_JSON');
});
