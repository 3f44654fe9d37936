/**
 * `homeserver routes` for every example topology in Synapse's worker documentation ("Scaling synapse via
 * workers"; the same shapes as packages/config/test/role-plan.test.ts), each written as config files and
 * loaded as the command loads them. Assertions are about behaviour: requests are run through simulators
 * of the plan, the generated nginx and the generated haproxy configuration, which must all agree.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { Manifest, planProxy, proxyRegex, renderHaproxy, renderNginx, routeTarget, type EndpointDecl, type ProxyPlan } from '@hs/http';
import { ALL_ENDPOINTS } from '../src/endpoints.ts';
import { loadProxyTopology } from '../src/proxy-topology.ts';
import { haproxyRouter, nginxRouter, planRouter, samplePath, type Router, type SimRequest, type SimResult } from './routes-simulator.ts';

type Raw = Record<string, unknown>;

/** Inbound federation transactions, declared here until the manifest has federation endpoints. */
const FED_SEND: EndpointDecl = { name: 'test_federation_send', method: 'PUT', path: '/_matrix/federation/v1/send/{txnId}', resource: 'federation', workers: ['main', 'generic_worker'], balance: 'source_ip', auth: 'server' };
const HAS_FED_SEND = ALL_ENDPOINTS.some((e) => e.method === 'PUT' && proxyRegex(e) === '^/_matrix/federation/v1/send/[^/]+$');
const manifest = new Manifest(HAS_FED_SEND ? ALL_ENDPOINTS : [...ALL_ENDPOINTS, FED_SEND]);

const SHARED: Raw = {
  server_name: 'example.com',
  suppress_key_server_warning: true,
  listeners: [
    { port: 8008, type: 'http', x_forwarded: true, bind_addresses: ['127.0.0.1'], resources: [{ names: ['client', 'federation'] }] },
    { port: 9093, bind_address: '127.0.0.1', type: 'http', resources: [{ names: ['replication'] }] },
  ],
  worker_replication_secret: 'secret_secret',
  redis: { enabled: true },
  database: { name: 'psycopg2', args: { user: 'synapse', password: 'pw', database: 'synapse', host: 'db', port: 5432 } },
};

function workerFile(app: string, name: string, extra: Raw = {}): Raw {
  return { worker_app: app, worker_name: name, worker_replication_host: '127.0.0.1', worker_replication_http_port: 9093, ...extra };
}
const clientListener = (port: number, names = ['client', 'federation']) => ({ type: 'http', port, x_forwarded: true, resources: [{ names }] });
const replicationListener = (port: number) => ({ type: 'http', port, resources: [{ names: ['replication'] }] });
const generic = (name: string, port: number) => workerFile('synapse.app.generic_worker', name, { worker_listeners: [clientListener(port)] });

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hs-routes-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let dirs = 0;

interface Loaded {
  readonly plan: ProxyPlan;
  readonly warnings: readonly string[];
  readonly routers: readonly [string, Router][];
}

/** Writes the files (JSON is YAML), loads them as `routes -c shared -w …` does, renders both proxies. */
async function load(shared: Raw, workers: Raw[]): Promise<Loaded> {
  const dir = path.join(root, String(dirs++));
  fs.mkdirSync(dir);
  const sharedFile = path.join(dir, 'homeserver.yaml');
  fs.writeFileSync(sharedFile, JSON.stringify(shared));
  const files = workers.map((w, i) => {
    const f = path.join(dir, `worker${i}.yaml`);
    fs.writeFileSync(f, JSON.stringify(w));
    return f;
  });
  const { topology, warnings } = await loadProxyTopology([sharedFile], files);
  const plan = planProxy(manifest, topology);
  return {
    plan,
    warnings,
    routers: [
      ['plan', planRouter(plan)],
      ['nginx', nginxRouter(renderNginx(plan))],
      ['haproxy', haproxyRouter(renderHaproxy(plan))],
    ],
  };
}

/** Routes a request through all three and insists they agree; returns the common answer. */
function route(t: Loaded, req: SimRequest): SimResult {
  const [[, first], ...rest] = t.routers as [[string, Router], ...[string, Router][]];
  const expected = first.route(req);
  for (const [name, r] of rest) assert.deepEqual(r.route(req), expected, `${name} disagrees with the plan on ${req.method} ${req.path}`);
  return expected;
}

function upstreamOf(t: Loaded, method: string, p: string, extra: Partial<SimRequest> = {}): string {
  const r = route(t, { method, path: p, ...extra });
  return 'upstream' in r ? r.upstream : `status ${r.status}`;
}

/** Every upstream's servers, the same in the plan and in both renderings. */
function upstreams(t: Loaded): Record<string, readonly string[]> {
  const fromPlan = Object.fromEntries(t.plan.upstreams.map((u) => [u.name, u.servers]));
  for (const [name, r] of t.routers) assert.deepEqual(Object.fromEntries([...r.upstreams].map(([n, u]) => [n, u.servers])), fromPlan, name);
  return fromPlan;
}

const ROOM = '!room1:example.com';
const enc = encodeURIComponent;
const P = {
  sync: '/_matrix/client/v3/sync',
  send: (room = ROOM, txn = 't1') => `/_matrix/client/v3/rooms/${enc(room)}/send/m.room.message/${txn}`,
  stateGet: `/_matrix/client/v3/rooms/${enc(ROOM)}/state/m.room.name/`,
  messages: `/_matrix/client/v3/rooms/${enc(ROOM)}/messages`,
  typing: `/_matrix/client/v3/rooms/${enc(ROOM)}/typing/${enc('@a:example.com')}`,
  toDevice: '/_matrix/client/v3/sendToDevice/m.room.encrypted/txn1',
  accountData: `/_matrix/client/v3/user/${enc('@a:example.com')}/account_data/m.direct`,
  receipt: `/_matrix/client/v3/rooms/${enc(ROOM)}/receipt/m.read/${enc('$ev')}`,
  readMarkers: `/_matrix/client/v3/rooms/${enc(ROOM)}/read_markers`,
  presence: `/_matrix/client/v3/presence/${enc('@a:example.com')}/status`,
  versions: '/_matrix/client/versions',
  fedSend: '/_matrix/federation/v1/send/1234',
  mediaDownload: '/_matrix/client/v1/media/download/example.com/abc',
  adminRegister: '/_synapse/admin/v1/register',
  replication: '/_synapse/replication/send_event/!r:x/$e/txn',
};

/** Every proxied endpoint of the manifest, at a concrete path, goes where the plan says in all three routers. */
function agreesOnEveryEndpoint(t: Loaded): void {
  for (const { decl } of manifest.endpoints) {
    if (!routeTarget(decl)) continue;
    const p = samplePath(decl.path, decl.params, { roomId: enc(ROOM) });
    const planned = t.plan.routes.find((r) => r.endpoint === decl.name)?.upstream;
    assert.equal(upstreamOf(t, decl.method, p, { authorization: 'Bearer tok', clientIp: '192.0.2.1' }), planned, `${decl.name}: ${decl.method} ${p}`);
  }
}

describe('routes: main only (a monolith)', async () => {
  const t = await load(SHARED, []);
  it('has one upstream and sends everything there', () => {
    assert.deepEqual(upstreams(t), { main: ['127.0.0.1:8008'] });
    for (const p of [P.sync, P.send(), P.typing, P.versions, P.adminRegister, '/health']) assert.equal(upstreamOf(t, 'GET', p), 'main');
    assert.equal(upstreamOf(t, 'POST', P.replication), 'status 404', 'replication never goes through the proxy');
    agreesOnEveryEndpoint(t);
  });
});

describe('routes: main + generic workers', async () => {
  const t = await load(SHARED, [generic('generic_worker1', 8083), generic('generic_worker2', 8084)]);
  const pool = ['127.0.0.1:8083', '127.0.0.1:8084'];

  it('has a pool per balancing method over the same workers', () => {
    const u = upstreams(t);
    assert.deepEqual(u['main'], ['127.0.0.1:8008']);
    for (const name of ['generic_worker', 'generic_worker_by_access_token', 'generic_worker_by_room', 'generic_worker_by_source_ip']) assert.deepEqual(u[name], pool, name);
    assert.deepEqual(t.warnings, []);
  });

  it('balances /sync by access token', () => {
    const a = route(t, { method: 'GET', path: P.sync, authorization: 'Bearer alice' });
    assert.deepEqual(a, { upstream: 'generic_worker_by_access_token', key: 'Bearer alice' });
  });

  it('balances room writes and pagination by room ID, however the client encodes it', () => {
    const one = route(t, { method: 'PUT', path: P.send(ROOM, 't1') });
    assert.deepEqual(one, { upstream: 'generic_worker_by_room', key: ROOM });
    assert.deepEqual(route(t, { method: 'PUT', path: `/_matrix/client/v3/rooms/${ROOM}/send/m.room.message/t2` }), one);
    assert.deepEqual(route(t, { method: 'PUT', path: P.send('!other:example.com') }), { upstream: 'generic_worker_by_room', key: '!other:example.com' });
    assert.deepEqual(route(t, { method: 'GET', path: P.messages }), { upstream: 'generic_worker_by_room', key: ROOM });
    assert.equal(upstreamOf(t, 'GET', P.stateGet), 'generic_worker', 'reading state is not room-bound');
    assert.equal(upstreamOf(t, 'PUT', P.stateGet), 'generic_worker_by_room', 'setting it is');
  });

  it('balances inbound federation transactions by source IP', () => {
    assert.deepEqual(route(t, { method: 'PUT', path: P.fedSend, clientIp: '198.51.100.4' }), { upstream: 'generic_worker_by_source_ip', key: '198.51.100.4' });
  });

  it('sends stream-writer endpoints to main, their writer, and main-only endpoints to main', () => {
    for (const [m, p] of [['PUT', P.typing], ['PUT', P.toDevice], ['PUT', P.accountData], ['POST', P.receipt], ['PUT', P.presence]] as const) assert.equal(upstreamOf(t, m, p), 'main', p);
    assert.equal(upstreamOf(t, 'GET', P.accountData), 'generic_worker');
    assert.equal(upstreamOf(t, 'GET', P.versions), 'generic_worker');
    assert.equal(upstreamOf(t, 'POST', P.adminRegister), 'main');
    assert.equal(upstreamOf(t, 'GET', P.mediaDownload), 'main', 'no media worker: main serves media');
    assert.equal(upstreamOf(t, 'GET', '/health'), 'main', 'probe each process directly');
  });

  it('agrees with the plan on every endpoint', () => agreesOnEveryEndpoint(t));
});

describe('routes: event persisters', async () => {
  const shared = {
    ...SHARED,
    instance_map: { main: { host: 'localhost', port: 9093 }, event_persister1: { host: 'localhost', port: 8034 }, event_persister2: { host: 'localhost', port: 8035 } },
    stream_writers: { events: ['event_persister1', 'event_persister2'] },
  };
  const persister = (name: string, port: number) => workerFile('synapse.app.generic_worker', name, { worker_listeners: [replicationListener(port)] });
  const t = await load(shared, [persister('event_persister1', 8034), persister('event_persister2', 8035), generic('generic_worker1', 8083), generic('generic_worker2', 8084)]);

  it('gives persisters no public traffic: sends go to the generic pool by room, which hands them on', () => {
    const all = Object.values(upstreams(t)).flat();
    assert.ok(!all.includes('127.0.0.1:8034') && !all.includes('127.0.0.1:8035'));
    assert.deepEqual(route(t, { method: 'PUT', path: P.send() }), { upstream: 'generic_worker_by_room', key: ROOM });
    assert.deepEqual(t.warnings, []);
    agreesOnEveryEndpoint(t);
  });
});

describe('routes: typing, to_device, account_data, receipts and presence writers', async () => {
  const shared = {
    ...SHARED,
    instance_map: {
      main: { host: 'localhost', port: 9093 },
      stream_writer1: { host: 'localhost', port: 8041 },
      stream_writer2: { host: 'localhost', port: 8042 },
      presence_writer: { path: '/run/hs/presence.sock' },
    },
    stream_writers: { typing: 'stream_writer1', to_device: 'stream_writer1', account_data: ['stream_writer2'], receipts: 'stream_writer2', presence: 'presence_writer' },
  };
  // As in Synapse's docs: a replication listener, plus a client listener on another port for the routed endpoints.
  const writer = (name: string, rep: number, client: number) =>
    workerFile('synapse.app.generic_worker', name, { worker_listeners: [replicationListener(rep), clientListener(client, ['client'])] });
  const presence = workerFile('synapse.app.generic_worker', 'presence_writer', { worker_listeners: [{ path: '/run/hs/presence.sock', resources: [{ names: ['replication'] }] }] });
  const t = await load(shared, [writer('stream_writer1', 8041, 8051), writer('stream_writer2', 8042, 8052), presence, generic('generic_worker1', 8083)]);

  it('routes each stream’s endpoints to its writer’s client listener', () => {
    const u = upstreams(t);
    // The writers' listeners bind every address, so they are reached at their instance_map host.
    assert.deepEqual(u['writer_stream_writer1'], ['localhost:8051']);
    assert.deepEqual(u['writer_stream_writer2'], ['localhost:8052']);
    assert.equal(upstreamOf(t, 'PUT', P.typing), 'writer_stream_writer1');
    assert.equal(upstreamOf(t, 'PUT', P.toDevice), 'writer_stream_writer1');
    assert.equal(upstreamOf(t, 'PUT', P.accountData), 'writer_stream_writer2');
    assert.equal(upstreamOf(t, 'POST', P.receipt), 'writer_stream_writer2');
    assert.equal(upstreamOf(t, 'POST', P.readMarkers), 'writer_stream_writer2');
  });

  it('keeps reads on the pool, and sends a writer without a client listener through it, with a warning', () => {
    assert.equal(upstreamOf(t, 'GET', P.accountData), 'generic_worker');
    assert.equal(upstreamOf(t, 'PUT', P.presence), 'generic_worker');
    assert.equal(t.warnings.length, 1);
    assert.match(t.warnings[0] ?? '', /^presence is written by presence_writer, which has no client listener/);
    agreesOnEveryEndpoint(t);
  });
});

describe('routes: workers that take no HTTP traffic (federation senders, pushers, background tasks)', async () => {
  const shared = {
    ...SHARED,
    send_federation: false,
    federation_sender_instances: ['federation_sender1', 'federation_sender2'],
    pusher_instances: ['pusher_worker1'],
    run_background_tasks_on: 'background_worker',
  };
  const t = await load(shared, [
    workerFile('synapse.app.federation_sender', 'federation_sender1'),
    workerFile('synapse.app.generic_worker', 'federation_sender2'),
    workerFile('synapse.app.generic_worker', 'pusher_worker1'),
    workerFile('synapse.app.generic_worker', 'background_worker'),
  ]);
  it('leaves everything on main', () => {
    assert.deepEqual(upstreams(t), { main: ['127.0.0.1:8008'] });
    assert.equal(upstreamOf(t, 'GET', P.sync), 'main');
    assert.equal(upstreamOf(t, 'PUT', P.fedSend), 'main');
    agreesOnEveryEndpoint(t);
  });
});

describe('routes: media repository worker', async () => {
  const media = workerFile('synapse.app.media_repository', 'media_worker', { worker_listeners: [clientListener(8085, ['media'])] });
  const t = await load({ ...SHARED, enable_media_repo: false }, [media]);
  it('sends media endpoints to the media worker and the rest to main', () => {
    assert.deepEqual(upstreams(t), { main: ['127.0.0.1:8008'], media_repository: ['127.0.0.1:8085'] });
    assert.equal(upstreamOf(t, 'GET', P.mediaDownload), 'media_repository');
    assert.equal(upstreamOf(t, 'POST', '/_matrix/media/v3/upload'), 'media_repository');
    assert.equal(upstreamOf(t, 'GET', P.sync), 'main');
    agreesOnEveryEndpoint(t);
  });
});

describe('routes: historical app names are generic workers', async () => {
  const t = await load(SHARED, [
    workerFile('synapse.app.client_reader', 'client_reader1', { worker_listeners: [clientListener(8091)] }),
    workerFile('synapse.app.synchrotron', 'synchrotron1', { worker_listeners: [clientListener(8092)] }),
    workerFile('synapse.app.federation_reader', 'federation_reader1', { worker_listeners: [clientListener(8093, ['federation'])] }),
  ]);
  it('pools them together', () => {
    assert.deepEqual(upstreams(t)['generic_worker_by_access_token'], ['127.0.0.1:8091', '127.0.0.1:8092', '127.0.0.1:8093']);
    agreesOnEveryEndpoint(t);
  });
});

describe('routes: containers (wildcard binds)', async () => {
  const shared = {
    ...SHARED,
    listeners: [
      { port: 8008, type: 'http', x_forwarded: true, resources: [{ names: ['client', 'federation'] }] },
      { port: 9093, type: 'http', resources: [{ names: ['replication'] }] },
    ],
    instance_map: { main: { host: 'main', port: 9093 }, generic1: { host: 'generic1', port: 9093 } },
  };
  const t = await load(shared, [
    workerFile('generic_worker', 'generic1', { worker_listeners: [clientListener(8083), replicationListener(9093)] }),
    workerFile('generic_worker', 'generic2', { worker_listeners: [clientListener(8083)] }),
  ]);
  it('reaches a process at its instance_map host, else on loopback', () => {
    assert.deepEqual(upstreams(t)['main'], ['main:8008']);
    assert.deepEqual(upstreams(t)['generic_worker'], ['generic1:8083', '127.0.0.1:8083']);
  });
});

describe('routes: mistakes in the files given', () => {
  it('rejects a worker file given as main, main given as a worker, and the same worker twice', async () => {
    await assert.rejects(load(SHARED, [SHARED]), /sets no worker_app/);
    await assert.rejects(load(SHARED, [generic('g', 8083), generic('g', 8084)]), /two -w files name the worker "g"/);
  });

  it('warns when a stream writer has no -w file', async () => {
    const shared = { ...SHARED, instance_map: { main: { host: 'localhost', port: 9093 }, w1: { host: 'localhost', port: 8034 } }, stream_writers: { typing: 'w1' } };
    const t = await load(shared, [generic('generic_worker1', 8083)]);
    assert.deepEqual(t.warnings, ['typing is written by w1, but no -w file describes it: its endpoints go to the worker pool']);
    assert.equal(upstreamOf(t, 'PUT', P.typing), 'generic_worker');
  });
});
