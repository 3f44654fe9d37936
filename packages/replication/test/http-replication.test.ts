import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { MatrixError, type JsonValue } from '@hs/core';
import express from 'express';
import got from 'got';
import { ReplicationCallError, ReplicationClient, type InstanceLocation } from '../src/http-replication-client.ts';
import { ReplicationServer, type ReplicationServerOptions } from '../src/http-replication-server.ts';
import { newTxnId, parsePositions, POSITIONS_HEADER, replicationPath } from '../src/http-replication.ts';
import { StreamFollower } from '../src/stream-follower.ts';
import { freePort } from '../src/testing.ts';

const SECRET = 'replication-secret';
const servers: Server[] = [];
const followers: StreamFollower[] = [];

after(async () => {
  for (const f of followers) f.stop();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

async function listen(options: Partial<ReplicationServerOptions> = {}, port = 0): Promise<{ rs: ReplicationServer; location: { host: string; port: number } }> {
  const rs = new ReplicationServer({ secret: SECRET, ...options });
  const app = express();
  app.use(rs.router);
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(port, '127.0.0.1', () => resolve(s));
  });
  servers.push(server);
  return { rs, location: { host: '127.0.0.1', port: (server.address() as AddressInfo).port } };
}

function client(instanceMap: Record<string, InstanceLocation>, extra: Partial<ConstructorParameters<typeof ReplicationClient>[0]> = {}) {
  return new ReplicationClient({ secret: SECRET, instanceMap, retry: { attempts: 4, initialDelayMs: 20, maxDelayMs: 100 }, ...extra });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('HTTP replication', () => {
  test('two processes call each other; path parameters arrive decoded', async () => {
    const main = await listen();
    const worker = await listen();
    main.rs.register({
      name: 'send_event',
      params: ['roomId', 'eventId'],
      handler: (req) => ({ on: 'main', params: req.params, body: req.body ?? null }),
    });
    worker.rs.register({ name: 'ping', handler: () => ({ on: 'worker' }) });
    const c = client({ main: main.location, worker1: worker.location });
    const res = await c.call('main', 'send_event', ['!room:example.org', '$ev/ent?x'], { content: { body: 'hi' } });
    assert.deepEqual(res, {
      on: 'main',
      params: { roomId: '!room:example.org', eventId: '$ev/ent?x' },
      body: { content: { body: 'hi' } },
    });
    assert.deepEqual(await c.call('worker1', 'ping', []), { on: 'worker' });
    await assert.rejects(c.call('nowhere', 'ping', []), /instance_map/);
  });

  test('an instance reached over a unix socket (instance_map `path`), and one missing from instance_map', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hs-repl-sock-'));
    const socket = path.join(dir, 'replication.sock');
    const rs = new ReplicationServer({ secret: SECRET });
    rs.register({ name: 'echo', params: ['word'], handler: (req) => ({ word: req.params.word ?? null, body: req.body ?? null }) });
    const app = express();
    app.use(rs.router);
    const server = await new Promise<Server>((resolve) => {
      const s = app.listen(socket, () => resolve(s));
    });
    servers.push(server);
    const c = client({ writer: { path: socket } });
    assert.deepEqual(await c.call('writer', 'echo', ['a b'], { x: 1 }), { word: 'a b', body: { x: 1 } });
    await assert.rejects(
      c.call('elsewhere', 'echo', ['x']),
      (e) => e instanceof ReplicationCallError && e.httpStatus === 502 && /elsewhere is not in instance_map/.test(e.message),
    );
  });

  test('rejects requests without the bearer secret (401 M_UNAUTHORIZED, JSON)', async () => {
    const { rs, location } = await listen();
    let ran = 0;
    rs.register({ name: 'guarded', handler: () => ({ ran: ++ran }) });
    const url = `http://127.0.0.1:${location.port}${replicationPath('guarded', [], newTxnId())}`;
    for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: `Basic ${SECRET}` }, { authorization: `Bearer ${SECRET}x` }]) {
      const res = await got.post(url, { headers, throwHttpErrors: false, json: {} });
      assert.equal(res.statusCode, 401);
      assert.equal(JSON.parse(res.body).errcode, 'M_UNAUTHORIZED');
    }
    await assert.rejects(client({ m: location }, { secret: 'nope' }).call('m', 'guarded', []), (e) => {
      assert.ok(e instanceof ReplicationCallError);
      assert.equal(e.httpStatus, 401);
      return true;
    });
    assert.equal(ran, 0);
    assert.deepEqual(await client({ m: location }).call('m', 'guarded', []), { ran: 1 });
  });

  test('without a configured secret, no authentication is required', async () => {
    const { rs, location } = await listen({ secret: null });
    rs.register({ name: 'open', handler: () => ({ ok: true }) });
    assert.deepEqual(await client({ m: location }, { secret: null }).call('m', 'open', []), { ok: true });
  });

  test('idempotent by transaction ID: a repeat gets the stored response, a concurrent repeat waits for the first', async () => {
    const { rs, location } = await listen();
    let runs = 0;
    rs.register({
      name: 'persist',
      handler: async () => {
        runs++;
        await sleep(80);
        return { run: runs };
      },
    });
    const c = client({ m: location });
    const txnId = newTxnId();
    const [a, b] = await Promise.all([c.call('m', 'persist', [], {}, { txnId }), c.call('m', 'persist', [], {}, { txnId })]);
    assert.deepEqual(a, { run: 1 });
    assert.deepEqual(b, { run: 1 });
    assert.deepEqual(await c.call('m', 'persist', [], {}, { txnId }), { run: 1 });
    assert.equal(runs, 1);
    assert.deepEqual(await c.call('m', 'persist', [], {}), { run: 2 });
  });

  test('client errors are final and stored; server errors are not stored, so a retry runs again', async () => {
    const { rs, location } = await listen();
    let forbidden = 0;
    let crashes = 0;
    rs.register({
      name: 'forbidden',
      handler: () => {
        forbidden++;
        throw new MatrixError(403, 'M_FORBIDDEN', 'not allowed', { extra_field: 1 });
      },
    });
    rs.register({
      name: 'crash',
      handler: () => {
        crashes++;
        throw new Error('bug');
      },
    });
    const c = client({ m: location });
    const txnId = newTxnId();
    for (let i = 0; i < 2; i++) {
      await assert.rejects(c.call('m', 'forbidden', [], {}, { txnId }), (e) => {
        assert.ok(e instanceof ReplicationCallError && e instanceof MatrixError);
        assert.equal(e.httpStatus, 403);
        assert.equal(e.errcode, 'M_FORBIDDEN');
        assert.equal(e.message, 'not allowed');
        assert.deepEqual(e.extra, { extra_field: 1 });
        assert.equal(e.instance, 'm');
        return true;
      });
    }
    assert.equal(forbidden, 1);
    const crashTxn = newTxnId();
    for (let i = 0; i < 2; i++) {
      await assert.rejects(c.call('m', 'crash', [], {}, { txnId: crashTxn }), (e) => e instanceof MatrixError && e.httpStatus === 500);
    }
    assert.equal(crashes, 2);
  });

  test('503 is retried with the same transaction ID until it succeeds', async () => {
    const { rs, location } = await listen();
    const seen: string[] = [];
    rs.register({
      name: 'flaky',
      handler: (req) => {
        seen.push(req.txnId);
        if (seen.length < 3) throw new MatrixError(503, 'M_UNKNOWN', 'starting up');
        return { attempts: seen.length };
      },
    });
    assert.deepEqual(await client({ m: location }).call('m', 'flaky', []), { attempts: 3 });
    assert.equal(new Set(seen).size, 1);
  });

  test('connection refused is retried until the callee is up; gives up with 502 after the attempts', async () => {
    const port = await freePort();
    const c = client({ m: { host: '127.0.0.1', port } });
    const call = c.call('m', 'late', []);
    await sleep(60);
    const { rs } = await listen({}, port);
    rs.register({ name: 'late', handler: () => ({ up: true }) });
    assert.deepEqual(await call, { up: true });

    const deadPort = await freePort();
    const started = Date.now();
    await assert.rejects(client({ d: { host: '127.0.0.1', port: deadPort } }).call('d', 'x', []), (e) => {
      assert.ok(e instanceof ReplicationCallError);
      assert.equal(e.httpStatus, 502);
      return true;
    });
    assert.ok(Date.now() - started >= 20 + 40 + 80, 'backed off between attempts');
  });

  test('the callee waits until it has applied the caller’s stream positions', async () => {
    const follower = new StreamFollower();
    followers.push(follower);
    follower.registerStream({ stream: 'events', positions: { worker1: 3 }, fetchRows: async () => [] });
    const { rs, location } = await listen({ follower, waitTimeoutMs: 5_000 });
    let seenAt = 0;
    rs.register({
      name: 'read_after_write',
      handler: () => {
        seenAt = follower.position('events', 'worker1') ?? -1;
        return { position: seenAt };
      },
    });
    const c = client({ m: location }, { positions: () => ({ events: { worker1: 5 }, unknown_stream: { x: 9 } }) });
    const call = c.call('m', 'read_after_write', []);
    await sleep(80);
    assert.equal(seenAt, 0, 'handler has not run yet');
    follower.handleCommand({ type: 'RDATA', stream: 'events', instance: 'worker1', prev: 3, token: 5, rows: [{ a: 1 }] });
    assert.deepEqual(await call, { position: 5 });
  });

  test('a position never reached delays the call by at most the wait timeout', async () => {
    const follower = new StreamFollower({ catchUpAfterMs: 10_000 });
    followers.push(follower);
    follower.registerStream({ stream: 'events', positions: { w: 0 }, fetchRows: async () => [] });
    const { rs, location } = await listen({ follower, waitTimeoutMs: 60 });
    rs.register({ name: 'impatient', handler: () => ({ ran: true }) });
    const started = Date.now();
    assert.deepEqual(await client({ m: location }).call('m', 'impatient', [], {}, { positions: { events: { w: 100 } } }), { ran: true });
    assert.ok(Date.now() - started >= 55);
  });

  test('GET endpoints, unknown endpoints, bad JSON and bad position headers', async () => {
    const { rs, location } = await listen();
    rs.register({ name: 'get_thing', method: 'GET', params: ['id'], handler: (req) => ({ id: req.params['id'] ?? null }) });
    const c = client({ m: location });
    assert.deepEqual(await c.call('m', 'get_thing', ['abc'], undefined, { method: 'GET' }), { id: 'abc' });
    await assert.rejects(c.call('m', 'no_such_endpoint', []), (e) => e instanceof MatrixError && e.httpStatus === 404 && e.errcode === 'M_UNRECOGNIZED');

    rs.register({ name: 'post_thing', handler: () => ({}) });
    const url = `http://127.0.0.1:${location.port}${replicationPath('post_thing', [], newTxnId())}`;
    const auth = { authorization: `Bearer ${SECRET}` };
    const badJson = await got.post(url, { headers: { ...auth, 'content-type': 'application/json' }, body: '{nope', throwHttpErrors: false });
    assert.equal(badJson.statusCode, 400);
    assert.equal(JSON.parse(badJson.body).errcode, 'M_NOT_JSON');
    const badPositions = await got.post(url, { headers: { ...auth, [POSITIONS_HEADER]: '{"events":{"w":-1}}' }, json: {}, throwHttpErrors: false });
    assert.equal(badPositions.statusCode, 400);
    assert.equal(JSON.parse(badPositions.body).errcode, 'M_INVALID_PARAM');
    assert.throws(() => rs.register({ name: 'post_thing', handler: () => ({}) }), /twice/);
    assert.throws(() => rs.register({ name: 'Bad-Name', handler: () => ({}) }));
  });

  test('stored transactions expire', async () => {
    const { rs, location } = await listen({ txnTtlMs: 30 });
    let runs = 0;
    rs.register({ name: 'expiring', handler: (): JsonValue => ({ run: ++runs }) });
    const c = client({ m: location });
    const txnId = newTxnId();
    assert.deepEqual(await c.call('m', 'expiring', [], {}, { txnId }), { run: 1 });
    assert.deepEqual(await c.call('m', 'expiring', [], {}, { txnId }), { run: 1 });
    await sleep(80);
    assert.deepEqual(await c.call('m', 'expiring', [], {}, { txnId }), { run: 2 });
  });

  test('positions header codec validates strictly', () => {
    assert.deepEqual(parsePositions('{"events":{"a":1,"b":2}}'), { events: { a: 1, b: 2 } });
    for (const bad of ['', '[]', '{"e":[]}', '{"e":{"a":1.5}}', '{"e":{"a":"1"}}', '{"e":null}']) {
      assert.throws(() => parsePositions(bad), /position/i, bad);
    }
    assert.throws(() => replicationPath('x', [], 'bad txn'), /transaction/);
  });
});
