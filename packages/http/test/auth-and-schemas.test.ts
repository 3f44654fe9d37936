import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { errors, silentLogger } from '@hs/core';
import { createListenerApp } from '../src/app.ts';
import { BodySchemas } from '../src/body-schemas.ts';
import type { Handler, Requester } from '../src/handler.ts';
import { Manifest } from '../src/manifest.ts';
import { createHttpMetrics, createMetricsRegistry } from '../src/metrics.ts';
import { queryBool, queryInt } from '../src/query.ts';

const schemaDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hs-schemas-'));
fs.mkdirSync(path.join(schemaDir, 'client'));
fs.writeFileSync(
  path.join(schemaDir, 'client/thing.schema.json'),
  JSON.stringify({
    type: 'object',
    required: ['name'],
    properties: { name: { type: 'string', maxLength: 10 }, count: { type: 'integer', minimum: 0 } },
  }),
);

const manifest = new Manifest([
  { name: 'me', method: 'GET', path: '/me', resource: 'client', workers: ['main'], auth: 'user' },
  { name: 'admin', method: 'GET', path: '/admin', resource: 'client', workers: ['main'], auth: 'admin' },
  { name: 'thing', method: 'POST', path: '/thing', resource: 'client', workers: ['main'], auth: 'none', bodySchema: 'client/thing' },
  { name: 'q', method: 'GET', path: '/q', resource: 'client', workers: ['main'], auth: 'none' },
]);
const users: Record<string, Requester> = {
  'Bearer alice': { userId: '@alice:test', deviceId: 'A', isGuest: false, isAdmin: false },
  'Bearer root': { userId: '@root:test', deviceId: 'R', isGuest: false, isAdmin: true },
};
const handlers = new Map<string, Handler>([
  ['me', (ctx) => ({ body: { user_id: ctx.requester?.userId ?? null } })],
  ['admin', () => ({ body: { ok: true } })],
  ['thing', (ctx) => ({ body: ctx.body as Record<string, unknown> })],
  ['q', (ctx) => ({ body: { limit: queryInt(ctx.req, 'limit', { min: 0, max: 100 }) ?? null, dir: queryBool(ctx.req, 'flag') ?? null } })],
]);

let server: http.Server;
let base: string;
test.before(async () => {
  const app = createListenerApp({
    manifest,
    handlers,
    kind: 'main',
    resources: new Set(['client']),
    instance: 't',
    log: silentLogger,
    metrics: createHttpMetrics(createMetricsRegistry('t')),
    bodySchemas: new BodySchemas(schemaDir),
    authenticate: async (req) => {
      const h = req.headers.authorization;
      if (!h) throw errors.missingToken();
      const u = users[h];
      if (!u) throw errors.unknownToken();
      return u;
    },
  });
  server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
test.after(() => new Promise<void>((r) => server.close(() => r())));

async function call(method: string, p: string, opts: { body?: unknown; token?: string } = {}) {
  const res = await fetch(base + p, {
    method,
    headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {},
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

test('authenticated endpoints: missing token 401, unknown token 401, good token reaches the handler', async () => {
  assert.deepEqual(await call('GET', '/me'), { status: 401, json: { errcode: 'M_MISSING_TOKEN', error: 'Missing access token.' } });
  assert.equal((await call('GET', '/me', { token: 'mallory' })).json.errcode, 'M_UNKNOWN_TOKEN');
  assert.deepEqual((await call('GET', '/me', { token: 'alice' })).json, { user_id: '@alice:test' });
});

test('admin endpoints need an admin', async () => {
  const r = await call('GET', '/admin', { token: 'alice' });
  assert.equal(r.status, 403);
  assert.equal(r.json.errcode, 'M_FORBIDDEN');
  assert.equal((await call('GET', '/admin', { token: 'root' })).status, 200);
});

test('bodies are validated against their schema with Matrix error codes', async () => {
  assert.equal((await call('POST', '/thing', { body: { name: 'ok', count: 2 } })).status, 200);
  const missing = await call('POST', '/thing', { body: {} });
  assert.deepEqual(missing, { status: 400, json: { errcode: 'M_MISSING_PARAM', error: 'Missing parameter: name' } });
  const noBody = await call('POST', '/thing');
  assert.equal(noBody.json.errcode, 'M_MISSING_PARAM');
  const wrongType = await call('POST', '/thing', { body: { name: 5 } });
  assert.equal(wrongType.json.errcode, 'M_BAD_JSON');
  assert.match(String(wrongType.json.error), /name must be string/);
  const tooLong = await call('POST', '/thing', { body: { name: 'x'.repeat(11) } });
  assert.equal(tooLong.json.errcode, 'M_INVALID_PARAM');
  const negative = await call('POST', '/thing', { body: { name: 'a', count: -1 } });
  assert.equal(negative.json.errcode, 'M_INVALID_PARAM');
});

test('query parameters are typed, bad ones are M_INVALID_PARAM', async () => {
  assert.deepEqual((await call('GET', '/q?limit=5&flag=true')).json, { limit: 5, dir: true });
  assert.equal((await call('GET', '/q?limit=abc')).json.errcode, 'M_INVALID_PARAM');
  assert.equal((await call('GET', '/q?limit=1000')).json.errcode, 'M_INVALID_PARAM');
  assert.equal((await call('GET', '/q?flag=yes')).json.errcode, 'M_INVALID_PARAM');
});

test('a missing schema or a missing authenticator stops start-up', () => {
  const opts = {
    handlers,
    kind: 'main' as const,
    resources: new Set(['client'] as const),
    instance: 't',
    log: silentLogger,
    metrics: createHttpMetrics(createMetricsRegistry('t2')),
  };
  assert.throws(() => createListenerApp({ ...opts, manifest }), /needs authentication/);
  const m2 = new Manifest([{ name: 'thing', method: 'POST', path: '/thing', resource: 'client', workers: ['main'], auth: 'none', bodySchema: 'client/nope' }]);
  assert.throws(() => createListenerApp({ ...opts, manifest: m2, bodySchemas: new BodySchemas(schemaDir) }), /ENOENT/);
});
