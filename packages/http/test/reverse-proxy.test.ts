import test from 'node:test';
import assert from 'node:assert/strict';
import { Manifest, type EndpointDecl } from '../src/manifest.ts';
import { planProxy, renderNginx } from '../src/reverse-proxy.ts';

const decls: EndpointDecl[] = [
  { name: 'sync', method: 'GET', path: '/_matrix/client/v3/sync', resource: 'client', workers: ['main', 'generic_worker'], balance: 'access_token', auth: 'user' },
  { name: 'send', method: 'PUT', path: '/_matrix/client/v3/rooms/{roomId}/send/{type}/{txn}', resource: 'client', workers: ['main', 'generic_worker'], writer: 'events', balance: 'room', auth: 'user' },
  { name: 'typing', method: 'PUT', path: '/_matrix/client/v3/rooms/{roomId}/typing/{userId}', resource: 'client', workers: ['main', 'generic_worker'], writer: 'typing', auth: 'user' },
  { name: 'fed_send', method: 'PUT', path: '/_matrix/federation/v1/send/{txn}', resource: 'federation', workers: ['main', 'generic_worker'], balance: 'source_ip', auth: 'server' },
  { name: 'admin_thing', method: 'GET', path: '/_synapse/admin/v1/thing', resource: 'client', workers: ['main'], auth: 'admin' },
  { name: 'profile_get', method: 'GET', path: '/_matrix/client/v3/profile/{userId}', resource: 'client', workers: ['main', 'generic_worker'], auth: 'none' },
  { name: 'profile_put', method: 'PUT', path: '/_matrix/client/v3/profile/{userId}', resource: 'client', workers: ['main'], auth: 'user' },
  { name: 'health', method: 'GET', path: '/health', resource: 'health', workers: ['main', 'generic_worker'], auth: 'none' },
];
const manifest = new Manifest(decls);

test('single process: everything goes to main', () => {
  const plan = planProxy(manifest, { main: '127.0.0.1:8008', workers: [], streamWriters: { typing: ['main'] } });
  assert.ok(plan.routes.every((r) => r.upstream === 'main'));
  assert.deepEqual(plan.upstreams.map((u) => u.name), ['main']);
});

test('workers: sync by token, sends by room, federation by IP, stream-writer endpoints to the writer, admin to main', () => {
  const plan = planProxy(manifest, {
    main: '127.0.0.1:8008',
    workers: [
      { name: 'generic1', kind: 'generic_worker', address: '127.0.0.1:8101' },
      { name: 'generic2', kind: 'generic_worker', address: '127.0.0.1:8102' },
      { name: 'writer1', kind: 'generic_worker', address: '127.0.0.1:8201' },
      { name: 'sender1', kind: 'federation_sender', address: '127.0.0.1:8301' },
    ],
    streamWriters: { typing: ['writer1'], events: ['persister1', 'persister2'] },
  });
  const route = (name: string) => plan.routes.find((r) => r.endpoint === name)?.upstream;
  assert.equal(route('sync'), 'generic_worker_by_access_token');
  assert.equal(route('send'), 'generic_worker_by_room');
  assert.equal(route('fed_send'), 'generic_worker_by_source_ip');
  assert.equal(route('typing'), 'writer_writer1');
  assert.equal(route('admin_thing'), 'main');
  assert.equal(route('health'), undefined, 'per-process endpoints are not proxied');
  const pool = plan.upstreams.find((u) => u.name === 'generic_worker_by_room');
  assert.deepEqual(pool?.servers, ['127.0.0.1:8101', '127.0.0.1:8102', '127.0.0.1:8201']);

  const nginx = renderNginx(plan, { listen: '127.0.0.1:8080' });
  assert.match(nginx, /upstream generic_worker_by_access_token \{\n\s+hash \$http_authorization consistent;/);
  assert.match(nginx, /upstream generic_worker_by_room \{\n\s+hash \$hs_room consistent;/);
  assert.match(nginx, /location ~ \^\/_matrix\/client\/v3\/rooms\/\(\?<hs_room>\[\^\/\]\+\)\/send\/\[\^\/\]\+\/\[\^\/\]\+\$ \{\n\s+proxy_pass http:\/\/generic_worker_by_room;/);
  assert.match(nginx, /if \(\$request_method = PUT\) \{ set \$hs_upstream main; \}/, 'profile PUT stays on main');
  assert.match(nginx, /location \^~ \/_synapse\/replication\/ \{ return 404; \}/);
  assert.match(nginx, /listen 127\.0\.0\.1:8080;/);
});

test('the generated nginx configuration is accepted by a real nginx (nginx -t)', async (t) => {
  const { spawnSync } = await import('node:child_process');
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const nginxBin = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => fs.existsSync(p));
  if (!nginxBin) {
    if (process.env.CI) assert.fail('nginx is not installed (CI must install it)');
    console.warn('!!! SKIPPED: nginx is not installed; the generated configuration was not checked by nginx');
    t.skip('nginx not installed');
    return;
  }
  const plan = planProxy(manifest, {
    main: '127.0.0.1:8008',
    workers: [
      { name: 'generic1', kind: 'generic_worker', address: '127.0.0.1:8101' },
      { name: 'writer1', kind: 'generic_worker', address: '127.0.0.1:8201' },
    ],
    streamWriters: { typing: ['writer1'] },
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hs-nginx-'));
  const conf = path.join(dir, 'nginx.conf');
  fs.writeFileSync(
    conf,
    `daemon off;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents {}\nhttp {\n  access_log off;\n  client_body_temp_path ${dir};\n  proxy_temp_path ${dir};\n${renderNginx(plan, { listen: '127.0.0.1:18080' })}\n}\n`,
  );
  const r = spawnSync(nginxBin, ['-t', '-p', dir, '-c', conf], { encoding: 'utf8' });
  fs.rmSync(dir, { recursive: true, force: true });
  assert.equal(r.status, 0, r.stderr);
});
