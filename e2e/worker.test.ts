/**
 * A worker process beside main: it may start first and waits for main's database, attaches to the
 * embedded Postgres main runs, joins the Redis replication channel, and serves health and metrics with
 * its own instance label. Redis going away does not take it down; it reconnects when Redis is back.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, RedisServer } from '@hs/replication/testing';
import { HomeserverProcess, runCli } from './support/process.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hs-e2e-worker-'));
fs.chmodSync(dir, 0o711);
let redis: RedisServer;
let main: HomeserverProcess | undefined;
let worker: HomeserverProcess | undefined;
let mainPort: number;
let workerPort: number;
let replicationPort: number;

async function metric(port: number, name: string, instance: string): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${port}/_synapse/metrics`)).text();
  const m = text.match(new RegExp(`^${name}\\{instance="${instance}"\\} (\\S+)$`, 'm'));
  return m ? Number(m[1]) : undefined;
}

async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test.before(async () => {
  redis = await RedisServer.start();
  mainPort = await freePort();
  workerPort = await freePort();
  replicationPort = await freePort();
  const gen = await runCli(['generate-config', '--data-dir', dir, '--port', String(mainPort), '--metrics-port', '0']);
  assert.equal(gen.code, 0, gen.output);
  // Shared by every process: how to reach Redis and main's replication listener.
  fs.writeFileSync(
    path.join(dir, 'redis.yaml'),
    [
      'redis:',
      '  enabled: true',
      '  host: 127.0.0.1',
      `  port: ${redis.port}`,
      'worker_replication_secret: "e2e-secret"',
      'instance_map:',
      `  main: {host: 127.0.0.1, port: ${replicationPort}}`,
    ].join('\n'),
  );
  // Main's own listeners: the generated client listener plus a loopback replication listener.
  fs.writeFileSync(
    path.join(dir, 'main-listeners.yaml'),
    [
      'listeners:',
      `  - {port: ${mainPort}, type: http, bind_addresses: ['127.0.0.1'], resources: [{names: [client, federation]}]}`,
      `  - {port: ${replicationPort}, type: http, bind_addresses: ['127.0.0.1'], resources: [{names: [replication]}]}`,
    ].join('\n'),
  );
  fs.writeFileSync(
    path.join(dir, 'generic1.yaml'),
    [
      'worker_app: synapse.app.generic_worker',
      'worker_name: generic1',
      'worker_listeners:',
      '  - type: http',
      `    port: ${workerPort}`,
      "    bind_addresses: ['127.0.0.1']",
      '    resources:',
      '      - names: [client, federation, metrics]',
    ].join('\n'),
  );
});

test.after(async () => {
  await worker?.stop('SIGKILL');
  await main?.stop('SIGKILL');
  await redis?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const cfg = (name: string) => path.join(dir, name);

test('a worker started before main waits for it, then serves with its own identity', async () => {
  worker = new HomeserverProcess(['worker', '-c', cfg('homeserver.yaml'), '-c', cfg('redis.yaml'), '-c', cfg('generic1.yaml')]);
  await worker.waitFor(/instance: generic1/);
  await new Promise((r) => setTimeout(r, 1500));
  assert.ok(worker.running, worker.output);
  assert.ok(!/ready on/.test(worker.output), 'not ready before main');

  main = new HomeserverProcess(['start', '-c', cfg('homeserver.yaml'), '-c', cfg('redis.yaml'), '-c', cfg('main-listeners.yaml')]);
  await main.waitFor(/main ready on/);
  assert.match(main.output, /replication: Redis 127\.0\.0\.1:\d+/);
  // Replication answers only with the shared secret, and never through the public listener.
  const repl = await fetch(`http://127.0.0.1:${replicationPort}/_synapse/replication/anything/txn1`, { method: 'POST', body: '{}' });
  assert.equal(repl.status, 401);
  assert.equal((await fetch(`http://127.0.0.1:${mainPort}/_synapse/replication/anything/txn1`, { method: 'POST', body: '{}' })).status, 404);
  await worker.waitFor(/generic1 ready on/, 30_000);

  const health = await fetch(`http://127.0.0.1:${workerPort}/health`);
  assert.equal(await health.text(), 'OK');
  const versions = await fetch(`http://127.0.0.1:${workerPort}/_matrix/client/versions`);
  assert.equal(versions.status, 200);
  await eventually(async () => (await metric(workerPort, 'synapse_replication_redis_connected', 'generic1')) === 1, 'redis connected');
  // The worker did not create a second database server or a new signing key.
  assert.ok(!/initialising the embedded Postgres/.test(worker.output));
  assert.equal(fs.readdirSync(dir).filter((f) => f.endsWith('.signing.key')).length, 1);
});

test('the worker keeps serving while Redis is down and reconnects when it returns', async () => {
  await redis.kill();
  await eventually(async () => (await metric(workerPort, 'synapse_replication_redis_connected', 'generic1')) === 0, 'disconnect noticed');
  assert.equal(await (await fetch(`http://127.0.0.1:${workerPort}/health`)).text(), 'OK');
  await redis.restart();
  await eventually(async () => (await metric(workerPort, 'synapse_replication_redis_connected', 'generic1')) === 1, 'reconnect');
});

test('routes for main + worker send client traffic to the worker pool', async () => {
  const r = await runCli([
    'routes', '--format', 'json',
    '-c', cfg('homeserver.yaml'), '-c', cfg('redis.yaml'), '-c', cfg('main-listeners.yaml'),
    '-w', cfg('generic1.yaml'),
  ]);
  assert.equal(r.code, 0, r.output);
  const plan = JSON.parse(r.output) as { upstreams: { name: string; servers: string[] }[]; routes: { endpoint: string; upstream: string }[] };
  const versions = plan.routes.find((x) => x.endpoint === 'client_versions');
  assert.equal(versions?.upstream, 'generic_worker');
  assert.deepEqual(plan.upstreams.find((u) => u.name === 'generic_worker')?.servers, [`127.0.0.1:${workerPort}`]);
});

test('both processes drain and exit 0 on SIGTERM', async () => {
  assert.ok(worker && main);
  assert.equal((await worker.stop('SIGTERM')).code, 0, worker.output);
  assert.equal((await main.stop('SIGTERM')).code, 0, main.output);
});
