/**
 * Role plans for every topology in Synapse's worker documentation ("Scaling synapse via workers"),
 * each written as there: the shared homeserver.yaml merged with the worker's own file.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { STREAM_NAMES } from '../src/config-types.ts';
import { describeRolePlan } from '../src/describe-role-plan.ts';
import { planRoles, type RolePlan } from '../src/role-plan.ts';
import { SHARED, valid } from './helpers.ts';

type Raw = Record<string, unknown>;

/** Merge like `-c shared.yaml -c worker.yaml`, validate, plan. */
function plan(shared: Raw, worker: Raw = {}): RolePlan {
  return planRoles(valid({ ...shared, ...worker }).config);
}

/** The worker file from Synapse's docs, for a given app and name. */
function workerFile(app: string, name: string, extra: Raw = {}): Raw {
  return {
    worker_app: app,
    worker_name: name,
    worker_replication_host: '127.0.0.1',
    worker_replication_http_port: 9093,
    worker_log_config: `/etc/matrix-synapse/${name}-log.yaml`,
    ...extra,
  };
}

const NO_DUTIES = {
  backgroundTasks: false,
  userDirectory: false,
  appserviceNotifications: false,
  mediaRepository: false,
  mediaBackgroundJobs: false,
  federationSending: false,
  pushers: false,
};

describe('planRoles: main only', () => {
  const p = plan({
    server_name: 'example.com',
    suppress_key_server_warning: true,
    listeners: [
      { port: 8008, tls: false, type: 'http', x_forwarded: true, bind_addresses: ['::1', '127.0.0.1'], resources: [{ names: ['client', 'federation'], compress: false }] },
      { port: 9000, type: 'metrics', bind_addresses: ['127.0.0.1'] },
      { port: 9001, bind_addresses: ['127.0.0.1'], type: 'manhole' },
    ],
  });

  it('is main, does everything, replicates in-process', () => {
    assert.equal(p.instanceName, 'main');
    assert.equal(p.isMain, true);
    assert.equal(p.workerKind, 'main');
    assert.equal(p.workerApp, null);
    assert.deepEqual(p.writes, [...STREAM_NAMES]);
    assert.equal(p.eventShard, null);
    assert.deepEqual(p.duties, {
      backgroundTasks: true,
      userDirectory: true,
      appserviceNotifications: true,
      mediaRepository: true,
      mediaBackgroundJobs: true,
      federationSending: true,
      pushers: true,
    });
    assert.deepEqual(p.federationSenderShard, { index: 0, count: 1, instances: ['main'] });
    assert.deepEqual(p.pusherShard, { index: 0, count: 1, instances: ['main'] });
    assert.equal(p.replication.mode, 'in-process');
    assert.equal(p.replication.redis, null);
    assert.deepEqual(p.workers, []);
    assert.deepEqual(p.instanceLocations, {});
  });

  it('plans listeners with implied resources, skipping manhole', () => {
    assert.equal(p.listeners.length, 2);
    const [http, metrics] = p.listeners;
    assert.deepEqual(http?.address, { kind: 'tcp', port: 8008, bindAddresses: ['::1', '127.0.0.1'] });
    assert.deepEqual(http?.resources, ['client', 'federation']);
    assert.deepEqual(http?.effectiveResources, ['client', 'federation', 'media', 'static', 'admin', 'keys', 'openid', 'health']);
    assert.equal(http?.xForwarded, true);
    assert.equal(http?.source, 'listeners[0]');
    assert.equal(metrics?.type, 'metrics');
    assert.deepEqual(metrics?.effectiveResources, ['metrics']);
  });

  it('describes itself', () => {
    const text = describeRolePlan(p);
    assert.match(text, /^instance: main — main process$/m);
    assert.match(text, /^replication: in-process/m);
    assert.match(text, /http \[::1\]:8008, 127\.0\.0\.1:8008: client, federation \(\+ media, static, admin, keys, openid, health\) \[x_forwarded\]/);
    assert.match(text, /^writes streams: all/m);
    assert.match(text, /^federation sending: yes$/m);
  });
});

describe('planRoles: main + generic workers', () => {
  const worker = workerFile('synapse.app.generic_worker', 'generic_worker1', {
    worker_listeners: [{ type: 'http', port: 8083, x_forwarded: true, resources: [{ names: ['client', 'federation'] }] }],
  });

  it('plans the generic worker: its listeners, no streams, no duties, redis', () => {
    const p = plan(SHARED, worker);
    assert.equal(p.instanceName, 'generic_worker1');
    assert.equal(p.isMain, false);
    assert.equal(p.workerKind, 'generic_worker');
    assert.equal(p.workerApp, 'synapse.app.generic_worker');
    assert.deepEqual(p.listeners.map((l) => [l.source, l.address.kind === 'tcp' && l.address.port, l.resources]), [
      ['worker_listeners[0]', 8083, ['client', 'federation']],
    ]);
    assert.deepEqual(p.writes, []);
    assert.deepEqual(p.duties, { ...NO_DUTIES, mediaRepository: true });
    assert.equal(p.federationSenderShard, null);
    assert.deepEqual(p.federationSenders, ['main']);
    assert.equal(p.replication.mode, 'redis');
    assert.equal(p.replication.secret, 'secret_secret');
    assert.deepEqual(p.instanceLocations['main'], { kind: 'tcp', host: '127.0.0.1', port: 9093, tls: false });
    assert.deepEqual(p.workers, ['generic_worker1']);
  });

  it('finds main from its replication listener when neither instance_map nor legacy keys say', () => {
    const p = plan(SHARED, { worker_app: 'generic_worker', worker_name: 'w2' });
    assert.deepEqual(p.instanceLocations['main'], { kind: 'tcp', host: '127.0.0.1', port: 9093, tls: false });
  });

  it('treats the historical app names as generic workers', () => {
    for (const app of ['synapse.app.client_reader', 'synapse.app.event_creator', 'synapse.app.federation_reader', 'synapse.app.frontend_proxy', 'synchrotron']) {
      const p = plan(SHARED, workerFile(app, 'old'));
      assert.equal(p.workerKind, 'generic_worker', app);
      assert.deepEqual(p.duties, NO_DUTIES, app);
    }
  });

  it('runs main when worker_app is synapse.app.homeserver', () => {
    const p = plan(SHARED, { worker_app: 'synapse.app.homeserver' });
    assert.equal(p.instanceName, 'main');
    assert.deepEqual(p.listeners.map((l) => l.source), ['listeners[0]', 'listeners[1]']);
    assert.equal(p.replication.mode, 'redis');
  });
});

describe('planRoles: event persisters', () => {
  const shared = {
    ...SHARED,
    instance_map: {
      main: { host: 'localhost', port: 9093 },
      event_persister1: { host: 'localhost', port: 8034 },
      event_persister2: { host: 'localhost', port: 8035 },
    },
    stream_writers: { events: ['event_persister1', 'event_persister2'] },
  };
  const persister = (name: string, port: number) =>
    workerFile('synapse.app.generic_worker', name, { worker_listeners: [{ type: 'http', port, resources: [{ names: ['replication'] }] }] });

  it('gives each persister its shard of rooms', () => {
    const p1 = plan(shared, persister('event_persister1', 8034));
    const p2 = plan(shared, persister('event_persister2', 8035));
    assert.deepEqual(p1.writes, ['events']);
    assert.deepEqual(p1.eventShard, { index: 0, count: 2, instances: ['event_persister1', 'event_persister2'] });
    assert.deepEqual(p2.eventShard, { index: 1, count: 2, instances: ['event_persister1', 'event_persister2'] });
    assert.deepEqual(p1.listeners[0]?.resources, ['replication']);
    assert.deepEqual(p1.instanceLocations['event_persister2'], { kind: 'tcp', host: 'localhost', port: 8035, tls: false });
  });

  it('leaves main writing every other stream', () => {
    const m = plan(shared);
    assert.deepEqual(m.writes, STREAM_NAMES.filter((s) => s !== 'events'));
    assert.equal(m.eventShard, null);
    assert.deepEqual(m.streamWriters.events, ['event_persister1', 'event_persister2']);
    assert.deepEqual(m.workers, ['event_persister1', 'event_persister2']);
    assert.match(describeRolePlan(m), /other writers: events → event_persister1, event_persister2/);
  });

  it('accepts the single-writer form (events: worker1)', () => {
    const p = plan({ ...SHARED, instance_map: { worker1: { host: 'localhost', port: 8034 } }, stream_writers: { events: 'worker1', typing: 'worker1' } }, persister('worker1', 8034));
    assert.deepEqual(p.writes, ['events', 'typing']);
    assert.equal(p.eventShard, null);
  });
});

describe('planRoles: typing, to_device, account_data, receipts, presence writers', () => {
  const shared = {
    ...SHARED,
    instance_map: {
      main: { host: 'localhost', port: 9093 },
      stream_writer1: { host: 'localhost', port: 8041 },
      stream_writer2: { host: 'localhost', port: 8042 },
      presence_writer: { path: '/run/hs/presence.sock' },
    },
    stream_writers: {
      typing: 'stream_writer1',
      to_device: 'stream_writer1',
      account_data: ['stream_writer2'],
      receipts: 'stream_writer2',
      presence: 'presence_writer',
    },
  };

  it('plans each writer with exactly its streams', () => {
    const w = (name: string, listener: Raw) => plan(shared, workerFile('synapse.app.generic_worker', name, { worker_listeners: [listener] }));
    const rep = (port: number) => ({ type: 'http', port, resources: [{ names: ['replication'] }] });
    assert.deepEqual(w('stream_writer1', rep(8041)).writes, ['typing', 'to_device']);
    assert.deepEqual(w('stream_writer2', rep(8042)).writes, ['account_data', 'receipts']);
    const presence = w('presence_writer', { path: '/run/hs/presence.sock', resources: [{ names: ['replication'] }] });
    assert.deepEqual(presence.writes, ['presence']);
    assert.deepEqual(presence.listeners[0]?.address, { kind: 'unix', path: '/run/hs/presence.sock', mode: 0o666 });
    assert.deepEqual(presence.instanceLocations['presence_writer'], { kind: 'unix', path: '/run/hs/presence.sock' });
  });

  it('leaves main the events, push_rules and device_lists streams', () => {
    assert.deepEqual(plan(shared).writes, ['events', 'push_rules', 'device_lists']);
  });
});

describe('planRoles: federation senders', () => {
  const shared = { ...SHARED, send_federation: false, federation_sender_instances: ['federation_sender1', 'federation_sender2'] };

  it('shards destinations across the listed senders (legacy app name)', () => {
    const p = plan(shared, workerFile('synapse.app.federation_sender', 'federation_sender1'));
    assert.equal(p.workerKind, 'federation_sender');
    assert.equal(p.duties.federationSending, true);
    assert.deepEqual(p.federationSenderShard, { index: 0, count: 2, instances: ['federation_sender1', 'federation_sender2'] });
    assert.deepEqual(p.listeners, []);
    assert.match(describeRolePlan(p), /^federation sending: yes, shard 1 of 2 \(federation_sender1, federation_sender2\)$/m);
  });

  it('shards the same way for generic workers named in federation_sender_instances', () => {
    const p = plan({ ...SHARED, federation_sender_instances: ['federation_sender1', 'federation_sender2'] }, workerFile('generic_worker', 'federation_sender2'));
    assert.deepEqual(p.federationSenderShard, { index: 1, count: 2, instances: ['federation_sender1', 'federation_sender2'] });
  });

  it('takes federation sending off main', () => {
    const m = plan(shared);
    assert.equal(m.duties.federationSending, false);
    assert.equal(m.federationSenderShard, null);
    assert.match(describeRolePlan(m), /^federation sending: no \(federation_sender1, federation_sender2\)$/m);
  });

  it('keeps it on main when federation_sender_instances is empty', () => {
    assert.equal(plan({ ...SHARED, federation_sender_instances: [] }).duties.federationSending, true);
  });

  it('supports the legacy single sender: send_federation false, no instance list', () => {
    const legacy = { ...SHARED, send_federation: false };
    const p = plan(legacy, workerFile('synapse.app.federation_sender', 'sender'));
    assert.deepEqual(p.federationSenderShard, { index: 0, count: 1, instances: ['sender'] });
    assert.equal(plan(legacy).duties.federationSending, false);
  });
});

describe('planRoles: pushers', () => {
  it('shards pushers across pusher_instances (legacy app with start_pushers: false)', () => {
    const shared = { ...SHARED, start_pushers: false, pusher_instances: ['pusher_worker1', 'pusher_worker2'] };
    const p = plan(shared, workerFile('synapse.app.pusher', 'pusher_worker2'));
    assert.equal(p.workerKind, 'pusher');
    assert.equal(p.duties.pushers, true);
    assert.deepEqual(p.pusherShard, { index: 1, count: 2, instances: ['pusher_worker1', 'pusher_worker2'] });
    assert.equal(plan(shared).duties.pushers, false);
  });

  it('does the same for generic workers', () => {
    const shared = { ...SHARED, pusher_instances: ['pusher_worker1'] };
    assert.deepEqual(plan(shared, workerFile('generic_worker', 'pusher_worker1')).pusherShard, { index: 0, count: 1, instances: ['pusher_worker1'] });
    assert.equal(plan(shared).duties.pushers, false);
    assert.equal(plan(shared, workerFile('generic_worker', 'other')).duties.pushers, false);
  });
});

describe('planRoles: media repository', () => {
  const media = workerFile('synapse.app.media_repository', 'media_worker', {
    worker_listeners: [{ type: 'http', port: 8085, x_forwarded: true, resources: [{ names: ['media'] }] }],
  });

  it('moves the media repository and its background jobs to the media worker', () => {
    const shared = { ...SHARED, enable_media_repo: false };
    const p = plan(shared, media);
    assert.equal(p.workerKind, 'media_repository');
    assert.equal(p.duties.mediaRepository, true);
    assert.equal(p.duties.mediaBackgroundJobs, true);
    assert.deepEqual(p.listeners[0]?.effectiveResources, ['media', 'health']);
    const m = plan(shared);
    assert.equal(m.duties.mediaRepository, false);
    assert.equal(m.duties.mediaBackgroundJobs, false);
  });

  it('runs media background jobs on the named instance when several media workers exist', () => {
    const shared = { ...SHARED, enable_media_repo: false, media_instance_running_background_jobs: 'media-repository-1' };
    assert.equal(plan(shared, { ...media, worker_name: 'media-repository-1' }).duties.mediaBackgroundJobs, true);
    assert.equal(plan(shared, { ...media, worker_name: 'media-repository-2' }).duties.mediaBackgroundJobs, false);
    assert.equal(plan(shared).duties.mediaBackgroundJobs, false);
  });
});

describe('planRoles: background tasks, user directory, application services', () => {
  it('moves background tasks to run_background_tasks_on', () => {
    const shared = { ...SHARED, run_background_tasks_on: 'background_worker' };
    const p = plan(shared, workerFile('synapse.app.generic_worker', 'background_worker'));
    assert.equal(p.duties.backgroundTasks, true);
    assert.deepEqual(p.listeners, []);
    assert.equal(plan(shared).duties.backgroundTasks, false);
    assert.match(describeRolePlan(p), /^duties: background tasks$/m);
  });

  it('moves user directory updates and appservice notifications to their workers', () => {
    const shared = { ...SHARED, update_user_directory_from_worker: 'dir_worker', notify_appservices_from_worker: 'as_worker' };
    const dir = plan(shared, workerFile('generic_worker', 'dir_worker'));
    const as = plan(shared, workerFile('generic_worker', 'as_worker'));
    const main = plan(shared);
    assert.deepEqual([dir.duties.userDirectory, dir.duties.appserviceNotifications], [true, false]);
    assert.deepEqual([as.duties.userDirectory, as.duties.appserviceNotifications], [false, true]);
    assert.deepEqual([main.duties.userDirectory, main.duties.appserviceNotifications], [false, false]);
  });

  it('honours the legacy user_dir and appservice apps when main is switched off', () => {
    const shared = { ...SHARED, update_user_directory: false, notify_appservices: false };
    assert.equal(plan(shared, workerFile('synapse.app.user_dir', 'ud')).duties.userDirectory, true);
    assert.equal(plan(shared, workerFile('synapse.app.appservice', 'as')).duties.appserviceNotifications, true);
    assert.equal(plan(shared).duties.userDirectory, false);
  });
});

describe('planRoles: Kubernetes replicas', () => {
  it('names a replica from its environment', () => {
    const { config } = valid({ ...SHARED, worker_app: 'generic_worker', worker_name: '${HOSTNAME}' }, { HOSTNAME: 'hs-sync-6f7c9-qwxyz' });
    const p = planRoles(config);
    assert.equal(p.instanceName, 'hs-sync-6f7c9-qwxyz');
    assert.match(describeRolePlan(p), /^instance: hs-sync-6f7c9-qwxyz — generic_worker worker \(synapse\.app\.generic_worker\)$/m);
  });
});
