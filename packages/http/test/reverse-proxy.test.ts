import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Manifest, type EndpointDecl } from '../src/manifest.ts';
import { planProxy, proxyLocations, renderHaproxy, renderNginx, roomLocation, routeTarget, type ProxyTopology } from '../src/reverse-proxy.ts';

const decls: EndpointDecl[] = [
  { name: 'sync', method: 'GET', path: '/_matrix/client/v3/sync', resource: 'client', workers: ['main', 'generic_worker'], balance: 'access_token', auth: 'user' },
  { name: 'send', method: 'PUT', path: '/_matrix/client/v3/rooms/{roomId}/send/{type}/{txn}', resource: 'client', workers: ['main', 'generic_worker'], writer: 'events', balance: 'room', auth: 'user' },
  { name: 'typing', method: 'PUT', path: '/_matrix/client/v3/rooms/{roomId}/typing/{userId}', resource: 'client', workers: ['main', 'generic_worker'], writer: 'typing', auth: 'user' },
  { name: 'fed_send', method: 'PUT', path: '/_matrix/federation/v1/send/{txn}', resource: 'federation', workers: ['main', 'generic_worker'], balance: 'source_ip', auth: 'server' },
  { name: 'admin_thing', method: 'GET', path: '/_synapse/admin/v1/thing', resource: 'client', workers: ['main'], auth: 'admin' },
  { name: 'profile_get', method: 'GET', path: '/_matrix/client/v3/profile/{userId}', resource: 'client', workers: ['main', 'generic_worker'], auth: 'none' },
  { name: 'profile_put', method: 'PUT', path: '/_matrix/client/v3/profile/{userId}', resource: 'client', workers: ['main'], auth: 'user' },
  { name: 'media_get', method: 'GET', path: '/_matrix/client/v1/media/download/{server}/{id}', resource: 'media', workers: ['main', 'media_repository'], auth: 'user' },
  { name: 'health', method: 'GET', path: '/health', resource: 'health', workers: ['main', 'generic_worker'], auth: 'none' },
];
const manifest = new Manifest(decls);

const WORKERS: ProxyTopology = {
  main: '127.0.0.1:8008',
  workers: [
    { name: 'generic1', kind: 'generic_worker', address: '127.0.0.1:8101' },
    { name: 'generic2', kind: 'generic_worker', address: '127.0.0.1:8102' },
    { name: 'writer1', kind: 'generic_worker', address: '127.0.0.1:8201' },
    { name: 'media1', kind: 'media_repository', address: '[::1]:8301' },
  ],
  streamWriters: { typing: ['writer1'], events: ['persister1', 'persister2'] },
};

test('single process: everything goes to main', () => {
  const plan = planProxy(manifest, { main: '127.0.0.1:8008', workers: [], streamWriters: { typing: ['main'] } });
  assert.ok(plan.routes.every((r) => r.upstream === 'main'));
  assert.deepEqual(plan.upstreams.map((u) => u.name), ['main']);
  assert.deepEqual(proxyLocations(plan), [], 'main-only paths are left to the default route');
});

test('workers: sync by token, sends by room, federation by IP, stream-writer endpoints to the writer, admin to main', () => {
  const plan = planProxy(manifest, WORKERS);
  const route = (name: string) => plan.routes.find((r) => r.endpoint === name)?.upstream;
  assert.equal(route('sync'), 'generic_worker_by_access_token');
  assert.equal(route('send'), 'generic_worker_by_room');
  assert.equal(route('fed_send'), 'generic_worker_by_source_ip');
  assert.equal(route('typing'), 'writer_writer1');
  assert.equal(route('admin_thing'), 'main');
  assert.equal(route('media_get'), 'media_repository');
  assert.equal(route('health'), undefined, 'per-process endpoints are not proxied');
  const pool = plan.upstreams.find((u) => u.name === 'generic_worker_by_room');
  assert.deepEqual(pool?.servers, ['127.0.0.1:8101', '127.0.0.1:8102', '127.0.0.1:8201']);
  assert.deepEqual(pool?.instances, ['generic1', 'generic2', 'writer1']);
  assert.deepEqual(plan.routes.find((r) => r.endpoint === 'send')?.room, { segment: 5, regex: '^/_matrix/client/v3/rooms/(?<room>[^/]+)/send/[^/]+/[^/]+$' });

  const nginx = renderNginx(plan, { listen: '127.0.0.1:8080' });
  assert.match(nginx, /upstream generic_worker_by_access_token \{\n\s+hash \$http_authorization consistent;/);
  assert.match(nginx, /upstream generic_worker_by_room \{\n\s+hash \$hs_room consistent;/);
  assert.match(nginx, /location ~ \^\/_matrix\/client\/v3\/rooms\/\(\?<hs_room>\[\^\/\]\+\)\/send\/\[\^\/\]\+\/\[\^\/\]\+\$ \{\n\s+proxy_pass http:\/\/generic_worker_by_room;/);
  assert.match(nginx, /if \(\$request_method = PUT\) \{ set \$hs_upstream main; \}/, 'profile PUT stays on main');
  assert.match(nginx, /location \^~ \/_synapse\/replication\/ \{ return 404; \}/);
  assert.match(nginx, /listen 127\.0\.0\.1:8080;/);
});

test('haproxy: ACLs from the regexes, per-method exceptions first, balancing per backend', () => {
  const text = renderHaproxy(planProxy(manifest, WORKERS), { listen: '8448' });
  assert.match(text, /^ {4}bind :8448$/m, 'a bare port binds every address');
  assert.match(text, /^ {4}option forwardfor$/m);
  assert.match(text, /http-request del-header X-Forwarded-For\n/);
  assert.match(text, /http-request set-header X-Forwarded-Proto https if \{ ssl_fc \}/);
  assert.match(text, /http-request deny deny_status 404 if \{ path_beg \/_synapse\/replication\/ \}/);
  const acl = (regex: string) => new RegExp(`acl (r\\d+) path_reg '${regex.replace(/[\\^$[\]()+.?*|{}]/g, '\\$&')}'`).exec(text)?.[1];
  const profile = acl('^/_matrix/client/v3/profile/[^/]+$');
  const send = acl('^/_matrix/client/v3/rooms/[^/]+/send/[^/]+/[^/]+$');
  assert.ok(profile && send);
  assert.ok(text.indexOf(`use_backend main if ${profile} { method PUT }`) < text.indexOf(`use_backend generic_worker if ${profile}\n`));
  assert.match(text, new RegExp(`http-request set-var\\(txn\\.hs_room\\) path,field\\(6,/\\),url_dec if ${send}\\n`));
  assert.match(text, /backend generic_worker_by_access_token\n {4}balance hdr\(Authorization\)\n {4}hash-type consistent\n/);
  assert.match(text, /backend generic_worker_by_room\n {4}http-request set-header X-Hs-Balance-Room %\[var\(txn\.hs_room\)\]\n {4}balance hdr\(X-Hs-Balance-Room\)\n {4}hash-type consistent\n/);
  assert.match(text, /backend generic_worker_by_source_ip\n {4}balance source\n {4}hash-type consistent\n/);
  assert.match(text, /backend media_repository\n {4}server media1 \[::1\]:8301 check\n/);
  assert.match(text, /default_backend main\n/);
});

test('the room is found by its {roomId} segment; without a fixed position the endpoint is balanced as any', () => {
  assert.deepEqual(roomLocation({ path: '/_matrix/client/{v}/rooms/{roomId}/messages', params: { v: 'v3|r0' } }), {
    segment: 5,
    regex: '^/_matrix/client/(v3|r0)/rooms/(?<room>[^/]+)/messages$',
  });
  assert.equal(roomLocation({ path: '/_matrix/client/{v}/rooms/{roomId}/send', params: { v: 'v3|api/v1' } }), undefined);
  assert.equal(roomLocation({ path: '/_matrix/client/v3/join/{roomIdOrAlias}' }), undefined);
  const unplaceable: EndpointDecl = { name: 'x', method: 'POST', path: '/_matrix/client/{v}/rooms/{roomId}/x', params: { v: 'v3|api/v1' }, resource: 'client', workers: ['main', 'generic_worker'], balance: 'room', auth: 'user' };
  assert.equal(routeTarget(unplaceable)?.balance, 'any');
  assert.equal(planProxy(new Manifest([unplaceable]), WORKERS).routes[0]?.upstream, 'generic_worker');
});

test('only endpoints a generic worker may serve go to a stream writer; several writers or a main writer are respected', () => {
  const mainOnlyWriter: EndpointDecl = { name: 'w', method: 'PUT', path: '/_matrix/client/v3/x', resource: 'client', workers: ['main'], writer: 'typing', auth: 'user' };
  assert.equal(routeTarget(mainOnlyWriter)?.writer, undefined);
  assert.equal(planProxy(new Manifest([mainOnlyWriter]), WORKERS).routes[0]?.upstream, 'main');
  const route = (streamWriters: ProxyTopology['streamWriters']) => planProxy(manifest, { ...WORKERS, streamWriters }).routes.find((r) => r.endpoint === 'typing')?.upstream;
  assert.equal(route({ typing: ['main'] }), 'main');
  assert.equal(route({ typing: ['writer1', 'generic1'] }), 'generic_worker', 'a single-writer stream with two writers is not guessed at');
  assert.equal(route({ typing: ['persister1'] }), 'generic_worker', 'a writer without a public listener is reached through the pool');
});

test('upstream and server names are made safe for nginx and haproxy', () => {
  const plan = planProxy(manifest, { main: '127.0.0.1:8008', workers: [{ name: 'w@host/1', kind: 'generic_worker', address: '127.0.0.1:9' }], streamWriters: { typing: ['w@host/1'] } });
  assert.ok(plan.upstreams.some((u) => u.name === 'writer_w_host_1' && u.instances[0] === 'w_host_1'));
});

/** Runs a proxy binary's config check; skips loudly when it is not installed (and fails in CI). */
function checkWith(t: TestContext, candidates: string[], what: string): string | undefined {
  const bin = candidates.find((p) => fs.existsSync(p));
  if (bin) return bin;
  if (process.env['CI']) assert.fail(`${what} is not installed (CI must install it)`);
  console.warn(`!!! SKIPPED: ${what} is not installed; the generated configuration was not checked by ${what}`);
  t.skip(`${what} not installed`);
  return undefined;
}

test('the generated nginx configuration is accepted by a real nginx (nginx -t)', (t) => {
  const nginxBin = checkWith(t, ['/usr/sbin/nginx', '/usr/bin/nginx'], 'nginx');
  if (!nginxBin) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hs-nginx-'));
  const conf = path.join(dir, 'nginx.conf');
  fs.writeFileSync(
    conf,
    `daemon off;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents {}\nhttp {\n  access_log off;\n  client_body_temp_path ${dir};\n  proxy_temp_path ${dir};\n${renderNginx(planProxy(manifest, WORKERS), { listen: '127.0.0.1:18080' })}\n}\n`,
  );
  const r = spawnSync(nginxBin, ['-t', '-p', dir, '-e', `${dir}/error.log`, '-c', conf], { encoding: 'utf8' });
  fs.rmSync(dir, { recursive: true, force: true });
  assert.equal(r.status, 0, r.stderr);
});

test('the generated haproxy configuration is accepted by a real haproxy (haproxy -c)', (t) => {
  const found = checkWith(t, ['/usr/sbin/haproxy', '/usr/bin/haproxy', '/usr/local/sbin/haproxy'], 'haproxy');
  if (!found) return;
  const haproxyBin: string = found;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hs-haproxy-'));
  const conf = path.join(dir, 'haproxy.cfg');
  for (const listen of ['127.0.0.1:18080', '8080', '[::1]:18080']) {
    fs.writeFileSync(conf, renderHaproxy(planProxy(manifest, WORKERS), { listen }));
    const r = spawnSync(haproxyBin, ['-c', '-f', conf], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${listen}: ${r.stdout}${r.stderr}`);
    assert.doesNotMatch(r.stdout + r.stderr, /\[WARNING\]/, 'no warnings either');
  }
  fs.rmSync(dir, { recursive: true, force: true });
});
