import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Logger } from '@hs/core';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { whenConnected } from '../src/bus.ts';
import type { ReplicationCommand } from '../src/commands.ts';
import { reconnectDelay, RedisBus, type RedisBusOptions } from '../src/redis-bus.ts';
import { freePort, RedisServer } from '../src/testing.ts';

async function until(what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, error: (m) => void warnings.push(m), warn: (m) => void warnings.push(m), info() {}, debug() {} };
}

describe('RedisBus', { timeout: 40_000 }, () => {
  let redis: RedisServer;
  const buses: RedisBus[] = [];
  const raw: Redis[] = [];

  function makeBus(name: string, extra: Partial<RedisBusOptions> = {}): RedisBus {
    const bus = new RedisBus({
      instanceName: name,
      serverName: 'example.org',
      redis: { host: '127.0.0.1', port: redis.port },
      reconnect: { initialDelayMs: 20, maxDelayMs: 100 },
      ...extra,
    });
    buses.push(bus);
    return bus;
  }

  before(async () => {
    redis = await RedisServer.start();
  });

  after(async () => {
    for (const b of buses) await b.stop();
    for (const r of raw) r.disconnect();
    await redis?.stop();
  });

  test('delivers commands between buses in order, including to the sender; sends REPLICATE on connect', async () => {
    const a = makeBus('a');
    const b = makeBus('b');
    const gotA: ReplicationCommand[] = [];
    const gotB: ReplicationCommand[] = [];
    a.onCommand((c) => gotA.push(c));
    b.onCommand((c) => gotB.push(c));
    await b.start();
    await whenConnected(b, 5_000);
    await a.start();
    await whenConnected(a, 5_000);
    await until('REPLICATE from a', () => gotB.some((c) => c.type === 'REPLICATE'));
    const cmds: ReplicationCommand[] = [];
    for (let i = 1; i <= 50; i++) cmds.push({ type: 'RDATA', stream: 's', instance: 'a', prev: i - 1, token: i, rows: [{ i }] });
    for (const c of cmds) a.send(c);
    await until('all delivered', () => gotB.filter((c) => c.type === 'RDATA').length === 50 && gotA.filter((c) => c.type === 'RDATA').length === 50);
    assert.deepEqual(gotB.filter((c) => c.type === 'RDATA'), cmds);
    assert.deepEqual(gotA.filter((c) => c.type === 'RDATA'), cmds);
  });

  test('buses on another server name (channel) do not hear each other', async () => {
    const a = makeBus('x1', { serverName: 'one.example' });
    const b = makeBus('x2', { serverName: 'two.example' });
    const got: ReplicationCommand[] = [];
    b.onCommand((c) => got.push(c));
    await a.start();
    await b.start();
    await whenConnected(a, 5_000);
    await whenConnected(b, 5_000);
    a.send({ type: 'REMOTE_SERVER_UP', server: 'far.away' });
    b.send({ type: 'PING', instance: 'x2' });
    await until('own ping', () => got.some((c) => c.type === 'PING'));
    assert.ok(!got.some((c) => c.type === 'REMOTE_SERVER_UP'));
    assert.equal(a.channel, 'one.example/replication');
  });

  test('malformed lines on the channel are logged and counted, not fatal', async () => {
    const registry = new Registry();
    const log = recordingLogger();
    const bus = makeBus('m', { registry, logger: log });
    const got: ReplicationCommand[] = [];
    bus.onCommand((c) => got.push(c));
    await bus.start();
    await whenConnected(bus, 5_000);
    const client = new Redis({ host: '127.0.0.1', port: redis.port });
    raw.push(client);
    await client.publish(bus.channel, 'RDATA s w 5 ["positional"]');
    await client.publish(bus.channel, 'GARBAGE');
    await client.publish(bus.channel, 'PING w');
    await until('valid command after the bad ones', () => got.some((c) => c.type === 'PING'));
    const malformed = await registry.getSingleMetric('synapse_replication_malformed_commands_total')!.get();
    assert.equal(malformed.values[0]?.value, 2);
    assert.equal(log.warnings.filter((w) => w.includes('malformed')).length, 2);
  });

  test('redis down: send neither throws nor blocks, commands are dropped; reconnects and asks REPLICATE', async () => {
    const registry = new Registry();
    const bus = makeBus('d', { registry, logger: recordingLogger() });
    const peer = makeBus('peer');
    const got: ReplicationCommand[] = [];
    const changes: boolean[] = [];
    peer.onCommand((c) => got.push(c));
    bus.onConnectionChange((up) => changes.push(up));
    await bus.start();
    await peer.start();
    await whenConnected(bus, 5_000);
    await whenConnected(peer, 5_000);
    const connectedGauge = async () => (await registry.getSingleMetric('synapse_replication_redis_connected')!.get()).values[0]?.value;
    assert.equal(await connectedGauge(), 1);

    await redis.kill();
    await until('disconnect noticed', () => !bus.connected);
    assert.equal(await connectedGauge(), 0);
    const started = Date.now();
    for (let i = 0; i < 1000; i++) bus.send({ type: 'PING', instance: 'd' });
    assert.ok(Date.now() - started < 500, 'send returns at once');
    // A publish can fail asynchronously, so the drop is counted a moment later. Count our PINGs only:
    // the bus may itself try (and drop) a REPLICATE while reconnecting.
    const droppedPings = async () =>
      (await registry.getSingleMetric('synapse_replication_commands_dropped_total')!.get()).values
        .filter((v) => v.labels.command === 'PING')
        .reduce((s, v) => s + v.value, 0);
    const deadline = Date.now() + 5_000;
    while ((await droppedPings()) < 1000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(await droppedPings(), 1000);

    got.length = 0;
    await redis.restart();
    await whenConnected(bus, 10_000);
    await whenConnected(peer, 10_000);
    await until('REPLICATE after reconnect', () => got.some((c) => c.type === 'REPLICATE'));
    assert.ok(!got.some((c) => c.type === 'PING'), 'dropped commands are not replayed later');
    assert.deepEqual(changes, [true, false, true]);
    assert.equal(await connectedGauge(), 1);
  });

  test('starting with redis unreachable: start() returns, the bus connects when redis appears', async () => {
    const port = await freePort();
    const bus = makeBus('late', { redis: { host: '127.0.0.1', port }, logger: recordingLogger() });
    await bus.start();
    assert.equal(bus.connected, false);
    bus.send({ type: 'PING', instance: 'late' });
    const late = await RedisServer.start(port);
    try {
      await whenConnected(bus, 10_000);
    } finally {
      await late.kill();
      await until('disconnect noticed', () => !bus.connected);
      await bus.stop(); // must not hang while redis is away
      await late.stop();
    }
    assert.equal(bus.connected, false);
  });

  test('password and dbid from the redis config are used', async () => {
    const secured = await RedisServer.start(undefined, ['--requirepass', 's3cret']);
    try {
      const opts = { host: '127.0.0.1', port: secured.port, dbid: 3 };
      const good = makeBus('pw', { redis: { ...opts, password: 's3cret' } });
      const bad = makeBus('nopw', { redis: opts, logger: recordingLogger() });
      const got: ReplicationCommand[] = [];
      good.onCommand((c) => got.push(c));
      await good.start();
      await bad.start();
      await whenConnected(good, 5_000);
      await until('own REPLICATE', () => got.some((c) => c.type === 'REPLICATE'));
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(bad.connected, false);
      await good.stop();
      await bad.stop();
    } finally {
      await secured.stop();
    }
  });

  test('reconnect delay grows exponentially with jitter, capped', () => {
    for (let i = 0; i < 100; i++) {
      const d1 = reconnectDelay(1, 100, 5_000);
      const d4 = reconnectDelay(4, 100, 5_000);
      const d30 = reconnectDelay(30, 100, 5_000);
      assert.ok(d1 >= 80 && d1 <= 120, `d1=${d1}`);
      assert.ok(d4 >= 640 && d4 <= 960, `d4=${d4}`);
      assert.ok(d30 >= 4_000 && d30 <= 6_000, `d30=${d30}`);
    }
  });
});
