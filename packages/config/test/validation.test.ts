import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../src/config-error.ts';
import { invalid, problemAt, SHARED, valid } from './helpers.ts';

const MINIMAL = { server_name: 'example.com', suppress_key_server_warning: true };
const WORKER = { ...SHARED, worker_app: 'synapse.app.generic_worker', worker_name: 'w1', instance_map: { main: { host: 'localhost', port: 9093 } } };

describe('broken configurations', () => {
  const cases: { name: string; raw: Record<string, unknown>; path: string; mentions?: string[] }[] = [
    { name: 'port not a number', raw: { ...MINIMAL, listeners: [{ port: 'eighty' }] }, path: 'listeners[0].port', mentions: ['"eighty"', 'expected an integer from 0 to 65535'] },
    { name: 'port out of range', raw: { ...MINIMAL, listeners: [{ port: 70000 }] }, path: 'listeners[0].port', mentions: ['70000'] },
    { name: 'unknown listener type', raw: { ...MINIMAL, listeners: [{ port: 1 }, { port: 2, type: 'websocket' }] }, path: 'listeners[1].type', mentions: ['http, metrics, manhole'] },
    { name: 'unknown resource name', raw: { ...MINIMAL, listeners: [{ port: 1, resources: [{ names: ['client', 'bogus'] }] }] }, path: 'listeners[0].resources[0].names[1]', mentions: ['"bogus"'] },
    { name: 'listener without port or path', raw: { ...MINIMAL, listeners: [{ type: 'http' }] }, path: 'listeners[0].port', mentions: ['is missing'] },
    { name: 'sqlite3', raw: { ...MINIMAL, database: { name: 'sqlite3', args: { database: 'homeserver.db' } } }, path: 'database.name', mentions: ['PostgreSQL', 'psycopg2', 'embedded'] },
    { name: 'postgres port not numeric', raw: { ...MINIMAL, database: { name: 'psycopg2', args: { user: 'u', port: 'abc' } } }, path: 'database.args.port', mentions: ['"abc"'] },
    { name: 'pool minimum above maximum', raw: { ...MINIMAL, database: { name: 'postgres', args: { user: 'u', cp_min: 20, cp_max: 10 } } }, path: 'database.args.cp_min', mentions: ['cp_max'] },
    { name: 'database and dbname', raw: { ...MINIMAL, database: { name: 'psycopg2', args: { user: 'u', database: 'a', dbname: 'b' } } }, path: 'database.args.dbname' },
    { name: 'redis port', raw: { ...MINIMAL, redis: { enabled: true, port: 'x' } }, path: 'redis.port' },
    { name: 'size string', raw: { ...MINIMAL, max_upload_size: '50 MB' }, path: 'max_upload_size', mentions: ['"50M"'] },
    { name: 'unknown room version', raw: { ...MINIMAL, default_room_version: '99' }, path: 'default_room_version' },
    { name: 'no server_name', raw: { listeners: [] }, path: 'server_name', mentions: ['is missing'] },
    { name: 'bad server_name', raw: { server_name: 'bad name!' }, path: 'server_name' },
    { name: 'public_baseurl scheme', raw: { ...MINIMAL, public_baseurl: 'ftp://example.com/' }, path: 'public_baseurl' },
    { name: 'instance_map entry without port', raw: { ...MINIMAL, instance_map: { worker1: { host: 'h' } } }, path: 'instance_map.worker1.port' },
    { name: 'two typing writers', raw: { ...SHARED, instance_map: { a: { host: 'a', port: 1 }, b: { host: 'b', port: 1 } }, stream_writers: { typing: ['a', 'b'] } }, path: 'stream_writers.typing', mentions: ['exactly one'] },
    { name: 'writer missing from instance_map', raw: { ...SHARED, instance_map: { ep1: { host: 'a', port: 1 } }, stream_writers: { events: ['ep1', 'ep2'] } }, path: 'stream_writers.events[1]', mentions: ['"ep2"', 'instance_map'] },
    { name: 'unknown stream', raw: { ...MINIMAL, stream_writers: { evnts: 'main' } }, path: 'stream_writers.evnts' },
    { name: 'worker_app without worker_name', raw: { ...SHARED, worker_app: 'synapse.app.generic_worker' }, path: 'worker_name', mentions: ['is missing'] },
    { name: 'unknown worker_app', raw: { ...SHARED, worker_app: 'synapse.app.bogus', worker_name: 'w' }, path: 'worker_app' },
    { name: 'worker without redis', raw: { ...WORKER, redis: { enabled: false } }, path: 'redis.enabled', mentions: ['false', 'w1'] },
    { name: 'workers named, redis absent', raw: { ...MINIMAL, federation_sender_instances: ['fs1'] }, path: 'redis.enabled', mentions: ['fs1'] },
    { name: 'worker cannot reach main', raw: { ...WORKER, listeners: [], instance_map: {} }, path: 'instance_map.main' },
    { name: 'shared secret twice', raw: { ...MINIMAL, registration_shared_secret: 'a', registration_shared_secret_path: 's.txt' }, path: 'registration_shared_secret_path' },
    { name: 'open registration without a check', raw: { ...MINIMAL, enable_registration: true }, path: 'enable_registration', mentions: ['registration_requires_token'] },
    { name: 'legacy federation sender app with send_federation on', raw: { ...WORKER, worker_app: 'synapse.app.federation_sender' }, path: 'send_federation', mentions: ['federation_sender_instances'] },
    { name: 'legacy pusher app with start_pushers true', raw: { ...WORKER, worker_app: 'synapse.app.pusher', start_pushers: true }, path: 'start_pushers' },
    { name: 'legacy appservice app', raw: { ...WORKER, worker_app: 'synapse.app.appservice' }, path: 'notify_appservices' },
    { name: 'TCP replication port', raw: { ...WORKER, worker_replication_port: 9092 }, path: 'worker_replication_port', mentions: ['Redis'] },
    { name: 'boolean as text', raw: { ...MINIMAL, enable_registration: 'yes please' }, path: 'enable_registration', mentions: ['true or false'] },
    { name: 'TLS without certificate', raw: { ...MINIMAL, listeners: [{ port: 8448, tls: true, resources: [{ names: ['federation'] }] }] }, path: 'listeners[0].tls' },
    { name: 'two listeners on one port', raw: { ...MINIMAL, listeners: [{ port: 8008 }, { port: 8008, bind_addresses: ['127.0.0.1'] }] }, path: 'listeners[1].port', mentions: ['listeners[0]'] },
    { name: 'metrics over a unix socket', raw: { ...MINIMAL, listeners: [{ path: '/run/hs.sock', type: 'metrics' }] }, path: 'listeners[0].type' },
    { name: 'duplicate federation sender', raw: { ...SHARED, federation_sender_instances: ['fs1', 'fs1'] }, path: 'federation_sender_instances' },
    { name: 'bad old signing key ID', raw: { ...MINIMAL, old_signing_keys: { 'rsa:x': { key: 'a'.repeat(43), expired_ts: 1 } } }, path: 'old_signing_keys["rsa:x"]' },
    { name: 'worker named main', raw: { ...WORKER, worker_name: 'main' }, path: 'worker_name' },
    { name: 'database sharding', raw: { ...MINIMAL, databases: { one: {} } }, path: 'databases' },
    { name: 'embedded without a data_dir string', raw: { ...MINIMAL, database: { name: 'embedded', args: { data_dir: 5 } } }, path: 'database.args.data_dir' },
    { name: 'unset environment variable', raw: { ...WORKER, worker_name: '${POD_NAME}' }, path: 'worker_name', mentions: ['POD_NAME'] },
  ];

  for (const c of cases) {
    it(`rejects: ${c.name}`, () => {
      const err = invalid(c.raw);
      const line = problemAt(err, c.path);
      for (const m of c.mentions ?? []) assert.ok(line.includes(m), `"${line}" should mention ${m}`);
    });
  }

  it('formats a bad value as key path, value and expectation', () => {
    const err = invalid({ ...MINIMAL, listeners: [{ port: 'eighty' }] });
    assert.deepEqual(err.problems, ['listeners[0].port: "eighty" is not valid: expected an integer from 0 to 65535']);
  });

  it('reports every problem at once, schema and cross-key alike', () => {
    const err = invalid({
      server_name: 'example.com',
      listeners: [{ port: 'eighty' }, { port: 8008, type: 'websocket' }],
      database: { name: 'sqlite3' },
      redis: { enabled: 'yes', port: -1 },
      max_upload_size: 'lots',
      stream_writers: { typing: ['a', 'b'] },
      enable_registration: true,
      worker_replication_secret: '',
    });
    for (const p of [
      'listeners[0].port',
      'listeners[1].type',
      'database.name',
      'redis.enabled',
      'redis.port',
      'max_upload_size',
      'stream_writers.typing',
      'stream_writers.typing[0]',
      'enable_registration',
      'worker_replication_secret',
    ]) {
      problemAt(err, p);
    }
    assert.ok(err.problems.length >= 10);
    assert.match(err.message, /^Invalid configuration: \d+ problems:\n/);
    assert.equal(new Set(err.problems).size, err.problems.length, 'no duplicate lines');
  });

  it('rejects a mapping that is not a mapping', () => {
    assert.throws(() => valid([] as unknown as Record<string, unknown>), ConfigError);
  });
});

describe('accepted configurations', () => {
  it('applies defaults to a minimal config', () => {
    const { config, warnings } = valid(MINIMAL);
    assert.deepEqual(warnings, ['listeners: the main process has no http listener']);
    assert.equal(config.publicBaseurl, 'https://example.com/');
    assert.deepEqual(config.database, { kind: 'embedded', dataDir: '/srv/hs/data/postgres' });
    assert.equal(config.signingKeyPath, '/srv/hs/example.com.signing.key');
    assert.equal(config.mediaStorePath, '/srv/hs/media_store');
    assert.equal(config.maxUploadSize, 50 * 1024 * 1024);
    assert.equal(config.defaultRoomVersion, '12');
    assert.equal(config.redis.enabled, false);
    assert.equal(config.runBackgroundTasksOn, 'main');
    assert.deepEqual(config.streamWriters.events, ['main']);
    assert.deepEqual(config.streamWriters.device_lists, ['main']);
    assert.equal(config.rateLimits.message.perSecond, 0.2);
    assert.deepEqual(config.rateLimits.adminRedaction, config.rateLimits.message);
    assert.equal(config.keyRefreshIntervalMs, 86_400_000);
    assert.equal(config.workerApp, null);
  });

  it("normalises Synapse's postgres form, with postgres as a synonym for psycopg2", () => {
    for (const name of ['psycopg2', 'postgres']) {
      const { config } = valid({
        ...MINIMAL,
        database: { name, txn_limit: 10000, args: { user: 'synapse_user', password: 'secretpassword', database: 'synapse', host: 'localhost', port: 5432, cp_min: 5, cp_max: 10 } },
      });
      assert.deepEqual(
        { ...config.database },
        {
          kind: 'postgres',
          host: 'localhost',
          port: 5432,
          user: 'synapse_user',
          password: 'secretpassword',
          database: 'synapse',
          poolMin: 5,
          poolMax: 10,
          sslMode: null,
          sslRootCert: null,
          sslCert: null,
          sslKey: null,
          applicationName: null,
          allowUnsafeLocale: false,
        },
      );
    }
  });

  it('accepts dbname, a unix-socket directory as host, and libpq defaults', () => {
    const { config } = valid({ ...MINIMAL, database: { name: 'psycopg2', args: { dbname: 'hs', host: '/var/run/postgresql', port: '5433' } } });
    assert.equal(config.database.kind, 'postgres');
    if (config.database.kind !== 'postgres') return;
    assert.equal(config.database.host, '/var/run/postgresql');
    assert.equal(config.database.port, 5433);
    assert.equal(config.database.database, 'hs');
    assert.equal(config.database.user, 'osuser');
    assert.equal(config.database.password, undefined);
  });

  it('takes the embedded data_dir relative to the base directory', () => {
    const { config } = valid({ ...MINIMAL, database: { name: 'embedded', args: { data_dir: 'pg' } } });
    assert.deepEqual(config.database, { kind: 'embedded', dataDir: '/srv/hs/pg' });
  });

  it('parses sizes and durations', () => {
    const { config } = valid({ ...MINIMAL, max_upload_size: '10K', key_refresh_interval: '2d' });
    assert.equal(config.maxUploadSize, 10240);
    assert.equal(config.keyRefreshIntervalMs, 2 * 86_400_000);
    assert.equal(valid({ ...MINIMAL, max_upload_size: 1000 }).config.maxUploadSize, 1000);
  });

  it('warns about unknown keys at any depth instead of failing', () => {
    const { warnings } = valid({
      ...MINIMAL,
      url_preview_enabled: true,
      listeners: [{ port: 8008, additional_resources: {}, resources: [{ names: ['client'], extra: 1 }] }],
      redis: { enabled: false, sentinel: true },
    });
    assert.ok(warnings.includes('url_preview_enabled: unknown key, ignored'));
    assert.ok(warnings.includes('listeners[0].additional_resources: unknown key, ignored'));
    assert.ok(warnings.includes('listeners[0].resources[0].extra: unknown key, ignored'));
    assert.ok(warnings.includes('redis.sentinel: unknown key, ignored'));
  });

  it('accepts the deprecated worker_replication_* keys with a warning, as instance_map.main', () => {
    const { config, warnings } = valid({
      ...SHARED,
      worker_app: 'synapse.app.generic_worker',
      worker_name: 'w1',
      worker_replication_host: '10.0.0.1',
      worker_replication_http_port: 9093,
      worker_replication_http_tls: true,
    });
    assert.deepEqual(config.instanceMap['main'], { kind: 'tcp', host: '10.0.0.1', port: 9093, tls: true });
    for (const key of ['worker_replication_host', 'worker_replication_http_port', 'worker_replication_http_tls']) {
      assert.ok(warnings.some((w) => w.startsWith(`${key}: deprecated`)), `no deprecation warning for ${key}`);
    }
  });

  it('treats null values as unset, and master as main', () => {
    const { config } = valid({
      ...SHARED,
      worker_replication_secret: null,
      registration_shared_secret: null,
      instance_map: { ep1: { host: 'h', port: 1 } },
      stream_writers: { events: ['master', 'ep1'] },
      run_background_tasks_on: 'master',
    });
    assert.equal(config.workerReplicationSecret, null);
    assert.deepEqual(config.streamWriters.events, ['main', 'ep1']);
    assert.equal(config.runBackgroundTasksOn, 'main');
  });

  it('normalises listeners: unix sockets, bind_address, defaults', () => {
    const { config } = valid({
      ...MINIMAL,
      listeners: [
        { port: 8008, resources: [{ names: ['client'], compress: true }] },
        { port: 9093, bind_address: '127.0.0.1', resources: [{ names: ['replication'] }] },
        { path: 'sockets/hs.sock', mode: 0o660, x_forwarded: true, resources: [{ names: ['client'] }] },
      ],
    });
    const [a, b, c] = config.listeners;
    assert.deepEqual(a, {
      kind: 'tcp',
      port: 8008,
      bindAddresses: ['::', '0.0.0.0'],
      type: 'http',
      tls: false,
      xForwarded: false,
      requestIdHeader: null,
      tag: null,
      resources: [{ names: ['client'], compress: true }],
    });
    assert.equal(b?.kind === 'tcp' && b.bindAddresses.join(), '127.0.0.1');
    assert.equal(c?.kind, 'unix');
    assert.equal(c?.kind === 'unix' && c.path, '/srv/hs/sockets/hs.sock');
    assert.equal(c?.kind === 'unix' && c.mode, 0o660);
  });

  it('accepts a worker_name built from the environment', () => {
    const raw = { ...SHARED, worker_app: 'generic_worker', worker_name: 'generic-${HOSTNAME}' };
    const { config } = valid(raw, { HOSTNAME: 'hs-generic-7d9f-x2' });
    assert.equal(config.workerName, 'generic-hs-generic-7d9f-x2');
    assert.equal(config.workerApp, 'synapse.app.generic_worker');
    assert.equal(valid({ ...raw, worker_name: '${POD:-fallback}' }).config.workerName, 'fallback');
  });

  it('warns when no replication secret protects worker traffic', () => {
    const { warnings } = valid({ ...SHARED, worker_replication_secret: undefined, federation_sender_instances: ['fs1'] });
    assert.ok(warnings.some((w) => w.startsWith('worker_replication_secret: not set')));
  });
});
