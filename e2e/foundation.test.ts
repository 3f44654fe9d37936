/**
 * The foundation as an operator meets it: first start with nothing configured (embedded Postgres,
 * generated config and signing key), the discovery/key/health/metrics endpoints, refusing a second
 * process on the same data dir, clean shutdown, recovery after kill -9, and a clear exit for a bad config.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { canonicalJson } from '@hs/core';
import { freePort } from '@hs/replication/testing';
import { HomeserverProcess, runCli } from './support/process.ts';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hs-e2e-'));
// mkdtemp makes it 0700; when tests run as root, Postgres runs as `postgres` and must be able to enter it.
fs.chmodSync(dataDir, 0o711);
let port: number;
let metricsPort: number;
let server: HomeserverProcess | undefined;

function startArgs(): string[] {
  return ['start', '--data-dir', dataDir, '--port', String(port), '--metrics-port', String(metricsPort)];
}

async function get(p: string, init: RequestInit = {}, onPort = port) {
  const res = await fetch(`http://127.0.0.1:${onPort}${p}`, init);
  const text = await res.text();
  return { status: res.status, text, headers: res.headers };
}

/** Postgres processes whose data dir is ours. */
function postgresProcesses(): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      const state = fs.readFileSync(`/proc/${entry}/status`, 'utf8');
      if (cmd.includes(dataDir) && cmd.includes('postgres') && !/^State:\s+Z/m.test(state)) pids.push(Number(entry));
    } catch {
      /* gone */
    }
  }
  return pids;
}

test.before(async () => {
  port = await freePort();
  metricsPort = await freePort();
});

test.after(async () => {
  await server?.stop('SIGKILL');
  for (const pid of postgresProcesses()) process.kill(pid, 'SIGINT');
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test('first start: generates config, signing key and embedded database, then serves', async () => {
  const started = Date.now();
  server = new HomeserverProcess(startArgs());
  await server.waitFor(/main ready on/);
  console.log(`cold first start to ready: ${Date.now() - started} ms`);
  assert.match(server.output, /created .*homeserver\.yaml/);
  assert.match(server.output, /data: embedded Postgres in /);
  assert.ok(fs.existsSync(path.join(dataDir, 'homeserver.yaml')));
  const keyFile = fs.readdirSync(dataDir).find((f) => f.endsWith('.signing.key'));
  assert.ok(keyFile);
  assert.match(fs.readFileSync(path.join(dataDir, keyFile), 'utf8'), /^ed25519 a_[A-Za-z0-9]{4} [A-Za-z0-9+/]{43}\n$/);
});

test('versions, health, well-known and unknown paths answer in Matrix JSON', async () => {
  const v = await get('/_matrix/client/versions');
  assert.equal(v.status, 200);
  const body = JSON.parse(v.text) as { versions: unknown; unstable_features: unknown };
  assert.ok(Array.isArray(body.versions));
  assert.equal(v.headers.get('access-control-allow-origin'), '*');
  assert.equal((await get('/health')).text, 'OK');
  const unknown = await get('/_matrix/client/v3/no/such/thing');
  assert.equal(unknown.status, 404);
  assert.deepEqual(JSON.parse(unknown.text), { errcode: 'M_UNRECOGNIZED', error: 'Unrecognized request' });
  const wrongMethod = await get('/_matrix/client/versions', { method: 'POST', body: '{}' });
  assert.equal(wrongMethod.status, 405);
  assert.equal(JSON.parse(wrongMethod.text).errcode, 'M_UNRECOGNIZED');
  // The generated config sets public_baseurl, so the client well-known is served; the server one is opt-in.
  const wk = JSON.parse((await get('/.well-known/matrix/client')).text);
  assert.equal(wk['m.homeserver'].base_url, `http://localhost:${port}/`);
  const wks = await get('/.well-known/matrix/server');
  assert.equal(wks.status, 404);
  assert.equal(JSON.parse(wks.text).errcode, 'M_NOT_FOUND');
});

test('the server key is self-signed and verifies with an independent ed25519 implementation', async () => {
  const r = await get('/_matrix/key/v2/server');
  assert.equal(r.status, 200);
  const doc = JSON.parse(r.text) as {
    server_name: string;
    valid_until_ts: number;
    verify_keys: Record<string, { key: string }>;
    signatures: Record<string, Record<string, string>>;
  };
  assert.equal(doc.server_name, 'localhost:8008');
  assert.ok(doc.valid_until_ts > Date.now() + 3_600_000);
  const [keyId, { key }] = Object.entries(doc.verify_keys)[0] as [string, { key: string }];
  const sig = doc.signatures['localhost:8008']?.[keyId];
  assert.ok(sig);
  const { signatures: _s, ...unsigned } = doc;
  // node:crypto (OpenSSL) here, libsodium in the server: two implementations must agree.
  const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(key, 'base64')]);
  const publicKey = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  assert.ok(verify(null, Buffer.from(canonicalJson(unsigned)), publicKey, Buffer.from(sig, 'base64')));
  const tampered = { ...unsigned, valid_until_ts: doc.valid_until_ts + 1 };
  assert.ok(!verify(null, Buffer.from(canonicalJson(tampered)), publicKey, Buffer.from(sig, 'base64')));
});

test('metrics are Prometheus text labelled with the instance', async () => {
  await get('/_matrix/client/versions');
  const m = await get('/_synapse/metrics', {}, metricsPort);
  assert.equal(m.status, 200);
  assert.match(m.headers.get('content-type') ?? '', /text\/plain/);
  assert.match(m.text, /synapse_http_server_requests_received_total\{method="GET",servlet="client_versions",instance="main"\} [1-9]/);
  assert.match(m.text, /process_resident_memory_bytes\{instance="main"\}/);
});

test('a second process on the same data dir is refused with a clear message', async () => {
  const second = await runCli(startArgs());
  assert.equal(second.code, 1);
  assert.match(second.output, /in use by another homeserver process \(pid \d+\)/);
  assert.ok(!second.output.includes('    at '), 'no stack trace');
  assert.equal((await get('/health')).text, 'OK', 'the first one is unaffected');
});

test('SIGTERM drains and stops the embedded Postgres; a warm start is fast', async () => {
  assert.ok(server);
  const exit = await server.stop('SIGTERM');
  assert.equal(exit.code, 0, server.output);
  assert.match(server.output, /embedded Postgres stopped/);
  assert.deepEqual(postgresProcesses(), []);
  const started = Date.now();
  server = new HomeserverProcess(startArgs());
  await server.waitFor(/main ready on/);
  const ms = Date.now() - started;
  console.log(`warm start to ready: ${ms} ms`);
  assert.ok(ms < 5000, `warm start took ${ms} ms`);
  assert.ok(!server.output.includes('created '), 'config is reused, not regenerated');
});

test('after kill -9 the next start recovers the orphaned database and serves', async () => {
  assert.ok(server);
  await server.stop('SIGKILL');
  assert.ok(postgresProcesses().length > 0, 'kill -9 leaves the database server behind');
  server = new HomeserverProcess(startArgs());
  await server.waitFor(/main ready on/);
  assert.match(server.output, /stopping an embedded Postgres left running/);
  assert.equal((await get('/health')).text, 'OK');
});

test('an invalid configuration exits 1 naming every bad key, and changes nothing', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hs-badcfg-'));
  const file = path.join(dir, 'bad.yaml');
  fs.writeFileSync(
    file,
    ['server_name: "bad name!"', 'listeners:', '  - port: eighty', '    resources: [{names: [client]}]', 'database:', '  name: sqlite3', 'enable_registration: maybe'].join('\n'),
  );
  const r = await runCli(['start', '-c', file]);
  assert.equal(r.code, 1);
  assert.match(r.output, /server_name/);
  assert.match(r.output, /listeners\[0\]\.port/);
  assert.match(r.output, /database/);
  assert.match(r.output, /enable_registration/);
  assert.ok(!r.output.includes('    at '), 'no stack trace');
  assert.deepEqual(fs.readdirSync(dir), ['bad.yaml'], 'nothing created');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('describe and routes print the plan and a proxy configuration', async () => {
  const cfg = path.join(dataDir, 'homeserver.yaml');
  const d = await runCli(['describe', '-c', cfg]);
  assert.equal(d.code, 0, d.output);
  assert.match(d.output, /instance: main/);
  const n = await runCli(['routes', '--format', 'nginx', '-c', cfg]);
  assert.equal(n.code, 0, n.output);
  assert.match(n.output, /upstream main \{\n\s+server 127\.0\.0\.1:\d+;/);
  const j = await runCli(['routes', '--format', 'json', '-c', cfg]);
  const plan = JSON.parse(j.output) as { routes: { endpoint: string; upstream: string }[] };
  assert.ok(plan.routes.some((r) => r.endpoint === 'client_versions' && r.upstream === 'main'));
  const bad = await runCli(['routes', '--format', 'apache', '-c', cfg]);
  assert.equal(bad.code, 1);
  assert.match(bad.output, /--format must be nginx, haproxy, json/);
});
