/**
 * One homeserver process — main or a worker — assembled from its role plan: logging, metrics, the
 * database (main starts the embedded one and migrates; workers wait for the schema), the replication
 * bus, the streams it writes, and its HTTP listeners. Shutdown drains in the reverse order.
 */
import type { Logger } from '@hs/core';
import {
  describeRolePlan,
  loadOrCreateSigningKeys,
  readSigningKeyFile,
  planRoles,
  type LoadedConfig,
  type PlannedListener,
  type RolePlan,
  type SigningKey,
} from '@hs/config';
import { createDiscoveryHandlers } from '@hs/discovery';
import { createKeyServerHandlers } from '@hs/federation';
import {
  bindListener,
  createBuiltinHandlers,
  createHttpMetrics,
  createListenerApp,
  createLogger,
  createMetricsRegistry,
  type BoundListener,
  type Handler,
  type Resource,
  type WorkerKind,
} from '@hs/http';
import { InProcessBus, RedisBus, ReplicationClient, ReplicationServer, type ReplicationBus } from '@hs/replication';
import { applyMigrations, InstanceIds, openDatabase, StreamWriter, waitForSchema, type Database } from '@hs/storage';
import { createManifest } from './endpoints.ts';
import { readLogConfig } from './log-config.ts';
import { ChangeFeed } from './change-feed.ts';
import { createDomains, type Domains } from './domains.ts';

/** Persisted streams whose IDs come from a sequence (typing is in-memory and has none). */
const SEQUENCED_STREAMS = new Set(['events', 'to_device', 'account_data', 'receipts', 'presence', 'push_rules', 'device_lists']);
/** JSON request bodies: generous for key backups and to-device batches, bounded against abuse. */
const MAX_JSON_BODY_BYTES = 10 * 1024 * 1024;
/** Streams with no `stream_writers` key: always written by main, as in Synapse. */
const MAIN_ONLY_STREAMS = ['pushers'];

export interface RunningProcess {
  readonly plan: RolePlan;
  readonly log: Logger;
  readonly listeners: readonly { source: string; bound: BoundListener }[];
  readonly database: Database;
  readonly bus: ReplicationBus;
  /** Drain: stop accepting, let in-flight requests finish (up to `graceMs`), flush positions, close. */
  stop(graceMs?: number): Promise<void>;
}

function servingKind(plan: RolePlan): WorkerKind {
  switch (plan.workerKind) {
    case 'main':
    case 'generic_worker':
    case 'federation_sender':
    case 'pusher':
    case 'media_repository':
      return plan.workerKind;
    default:
      // appservice / user_dir workers are generic workers with a duty.
      return 'generic_worker';
  }
}

async function signingKeys(plan: RolePlan, file: string, log: Logger): Promise<SigningKey[]> {
  if (!plan.isMain) return readSigningKeyFile(file);
  const { keys, created } = await loadOrCreateSigningKeys(file);
  if (created) log.info('generated a new signing key', { file, key_id: keys[0]?.keyId });
  return keys;
}

function createBus(plan: RolePlan, serverName: string, log: Logger, registry: ReturnType<typeof createMetricsRegistry>): ReplicationBus {
  const redis = plan.replication.redis;
  if (plan.replication.mode === 'in-process' || !redis) {
    return new InProcessBus({ instanceName: plan.instanceName, registry, logger: log });
  }
  return new RedisBus({
    instanceName: plan.instanceName,
    serverName,
    redis: {
      host: redis.host,
      port: redis.port,
      ...(redis.path ? { path: redis.path } : {}),
      ...(redis.password ? { password: redis.password } : {}),
      ...(redis.dbid !== null ? { dbid: redis.dbid } : {}),
    },
    registry,
    logger: log,
  });
}

export async function startHomeserverProcess(loaded: LoadedConfig): Promise<RunningProcess> {
  const started = Date.now();
  const { config } = loaded;
  const plan = planRoles(config);
  const log = createLogger(readLogConfig(plan.isMain ? config.logConfig : (config.workerLogConfig ?? config.logConfig), plan.instanceName));
  for (const w of loaded.warnings) log.warn(`config: ${w}`);
  for (const line of describeRolePlan(plan).split('\n')) log.info(line);

  let healthy = false;
  const registry = createMetricsRegistry(plan.instanceName);
  const httpMetrics = createHttpMetrics(registry);

  const keys = await signingKeys(plan, config.signingKeyPath, log);
  // A worker may start before main (and its database): it waits, as Synapse's workers do.
  const database = await openDatabase(config.database, {
    log,
    applicationName: plan.instanceName,
    startEmbedded: plan.isMain,
    waitMs: plan.isMain ? 60_000 : 600_000,
  });
  const cleanup: Array<() => Promise<void>> = [() => database.close()];
  const bus = createBus(plan, config.serverName, log, registry);
  const listeners: { source: string; bound: BoundListener }[] = [];
  const writers = new Map<string, StreamWriter>();
  let domains: Domains | undefined;
  let feed: ChangeFeed | undefined;
  try {
    if (plan.isMain) await applyMigrations(database.sql, log);
    else await waitForSchema(database.sql, log);
    await new InstanceIds(database.sql).idFor(plan.instanceName);

    await bus.start();
    cleanup.unshift(async () => bus.stop());
    const written = [...plan.writes.filter((s) => SEQUENCED_STREAMS.has(s)), ...(plan.isMain ? MAIN_ONLY_STREAMS : [])];
    for (const stream of written) writers.set(stream, await StreamWriter.open(database.sql, stream, plan.instanceName, log));
    feed = await ChangeFeed.start({
      sql: database.sql,
      log,
      bus,
      registry,
      instanceName: plan.instanceName,
      streamWriters: plan.streamWriters,
      writers,
    });
    cleanup.unshift(async () => feed?.stop());

    // Requests from other processes wait until this one has applied the positions they carry.
    const replicationServer = new ReplicationServer({ secret: plan.replication.secret, follower: feed.follower, logger: log });
    const replicationClient = new ReplicationClient({
      secret: plan.replication.secret,
      instanceMap: (instance) => {
        const loc = plan.instanceLocations[instance];
        if (!loc) return undefined;
        return loc.kind === 'tcp' ? { host: loc.host, port: loc.port, tls: loc.tls } : { path: loc.path };
      },
      positions: () => (feed as ChangeFeed).publisher.replicationPositions(),
      logger: log,
    });

    // The Client-Server domains run on main and on generic workers; writes to streams another process
    // writes are forwarded to it over HTTP replication.
    if (plan.isMain || servingKind(plan) === 'generic_worker') {
      domains = await createDomains({
        config,
        sql: database.sql,
        log,
        signingKey: keys[0] as SigningKey,
        writers,
        feed,
        instanceName: plan.instanceName,
        streamWriters: plan.streamWriters,
        replication: { client: replicationClient, server: replicationServer, bus },
        backgroundTasks: plan.duties.backgroundTasks,
      });
      cleanup.unshift(() => (domains as Domains).close());
    }

    const handlers = new Map<string, Handler>([
      ...(domains?.handlers ?? []),
      ...createBuiltinHandlers({ registry, isHealthy: () => healthy }),
      ...createDiscoveryHandlers({
        serverName: config.serverName,
        publicBaseurl: config.publicBaseurl,
        serveServerWellknown: config.serveServerWellknown,
        extraWellKnownClientContent: config.extraWellKnownClientContent,
      }),
      ...createKeyServerHandlers({
        serverName: config.serverName,
        keys: keys.map((k) => ({ keyId: k.keyId, publicKey: k.publicKey, secretKey: k.secretKey })),
        oldKeys: config.oldSigningKeys.map((k) => ({ keyId: k.keyId, key: k.key, expiredTs: k.expiredTs })),
        validityMs: config.keyRefreshIntervalMs,
      }),
    ]);
    const manifest = createManifest();
    const kind = servingKind(plan);
    for (const l of plan.listeners) listeners.push({ source: l.source, bound: await bindPlanned(l) });

    async function bindPlanned(l: PlannedListener): Promise<BoundListener> {
      const resources = new Set(l.effectiveResources as Resource[]);
      const app = createListenerApp({
        manifest,
        handlers,
        kind,
        resources,
        instance: plan.instanceName,
        log,
        metrics: httpMetrics,
        xForwarded: l.xForwarded,
        maxRawBytes: config.maxUploadSize,
        maxJsonBytes: MAX_JSON_BODY_BYTES,
        routers: resources.has('replication') ? [replicationServer.router] : [],
        ...(domains ? { authenticate: domains.authenticate } : {}),
        servedEndpoints: domains ? undefined : new Set(handlers.keys()),
      });
      const bound = await bindListener(l.address, app);
      log.info(`listening on ${bound.addresses.join(', ')} (${[...resources].join(', ')})`);
      return bound;
    }
  } catch (e) {
    for (const l of listeners) await l.bound.close(0);
    for (const c of cleanup) await c().catch(() => {});
    throw e;
  }

  healthy = true;
  log.info(`${plan.instanceName} is ready`, { startup_ms: Date.now() - started });
  let stopping: Promise<void> | undefined;
  return {
    plan,
    log,
    listeners,
    database,
    bus,
    stop(graceMs = 10_000) {
      stopping ??= (async () => {
        healthy = false;
        log.info('shutting down: draining requests');
        await Promise.all(listeners.map((l) => l.bound.close(graceMs)));
        await Promise.all([...writers.values()].map((w) => w.flush()));
        for (const c of cleanup) await c().catch((e: unknown) => log.error('error during shutdown', { error: String(e) }));
        log.info('stopped');
      })();
      return stopping;
    },
  };
}
