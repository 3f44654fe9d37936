/** `homeserver routes` as an operator runs it: files in, configuration on stdout, warnings and errors on stderr. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { haproxyRouter } from './routes-simulator.ts';

const CLI = path.resolve(import.meta.dirname, '../src/cli.ts');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hs-routes-cli-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

const shared = write(
  'homeserver.yaml',
  `server_name: example.com
suppress_key_server_warning: true
listeners:
  - {port: 8008, type: http, x_forwarded: true, bind_addresses: ['127.0.0.1'], resources: [{names: [client, federation]}]}
  - {port: 9093, type: http, bind_addresses: ['127.0.0.1'], resources: [{names: [replication]}]}
worker_replication_secret: secret
redis: {enabled: true}
database: {name: psycopg2, args: {user: synapse, password: pw, database: synapse, host: db, port: 5432}}
instance_map:
  main: {host: 127.0.0.1, port: 9093}
  writer1: {host: 127.0.0.1, port: 8034}
stream_writers:
  typing: writer1
`,
);
const generic = (name: string, port: number) =>
  write(`${name}.yaml`, `worker_app: synapse.app.generic_worker\nworker_name: ${name}\nworker_listeners:\n  - {type: http, port: ${port}, bind_addresses: ['127.0.0.1'], x_forwarded: true, resources: [{names: [client, federation]}]}\n`);
const g1 = generic('generic1', 8083);
const g2 = generic('generic2', 8084);

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'routes', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('routes: haproxy, json and usage errors', async () => {
  const [haproxy, json, badFormat, badListen] = await Promise.all([
    run(['--format', 'haproxy', '--listen', '127.0.0.1:8448', '-c', shared, '-w', g1, '-w', g2]),
    run(['-f', 'json', '-c', shared, '-w', g1]),
    run(['--format', 'apache', '-c', shared]),
    run(['--listen', '8080; evil', '-c', shared]),
  ]);

  assert.equal(haproxy.code, 0, haproxy.stderr);
  assert.match(haproxy.stdout, /^ {4}bind 127\.0\.0\.1:8448$/m);
  const router = haproxyRouter(haproxy.stdout);
  assert.deepEqual(router.route({ method: 'GET', path: '/_matrix/client/v3/sync', authorization: 'Bearer x' }), { upstream: 'generic_worker_by_access_token', key: 'Bearer x' });
  assert.deepEqual(router.upstreams.get('generic_worker_by_access_token')?.servers, ['127.0.0.1:8083', '127.0.0.1:8084']);
  assert.equal(haproxy.stderr, 'warning: typing is written by writer1, but no -w file describes it: its endpoints go to the worker pool\n');

  assert.equal(json.code, 0, json.stderr);
  const plan = JSON.parse(json.stdout) as { upstreams: { name: string; servers: string[] }[]; routes: { endpoint: string; upstream: string }[] };
  assert.deepEqual(plan.upstreams.find((u) => u.name === 'generic_worker_by_access_token')?.servers, ['127.0.0.1:8083']);
  assert.equal(plan.routes.find((r) => r.endpoint === 'sync')?.upstream, 'generic_worker_by_access_token');

  assert.equal(badFormat.code, 1);
  assert.match(badFormat.stderr, /^--format must be nginx, haproxy, json; got "apache"/);
  assert.equal(badFormat.stdout, '');
  assert.equal(badListen.code, 1);
  assert.match(badListen.stderr, /^--listen must be PORT or HOST:PORT, got "8080; evil"/);
});
