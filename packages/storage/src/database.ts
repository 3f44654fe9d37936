/**
 * The Postgres connection pool every store uses. Wraps postgres.js so that start-up resolves the
 * embedded server first when configured, and shutdown stops it after the pool has drained.
 */
import postgres from 'postgres';
import type { Logger } from '@hs/core';
import type { ConnectionTarget, DatabaseSettings } from './connection-settings.ts';
import { EmbeddedPostgres } from './embedded-postgres.ts';

export type Sql = postgres.Sql<Record<string, never>>;
export type TransactionSql = postgres.TransactionSql<Record<string, never>>;

export interface Database {
  readonly sql: Sql;
  readonly target: ConnectionTarget;
  close(): Promise<void>;
}

export interface OpenOptions {
  log: Logger;
  /** Name reported to Postgres (pg_stat_activity shows which process holds a connection). */
  applicationName: string;
  /** Only `main` may start the embedded server; workers attach to the one main runs (same host). */
  startEmbedded?: boolean;
  /** How long a worker waits for the database (main may start after it). Default 0: fail at once. */
  waitMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Seconds before reconnecting after the `retries`-th connection error in a row: doubling from 50 ms, at most 1 s, jittered. */
function reconnectDelaySeconds(retries: number): number {
  return Math.min(0.05 * 2 ** retries, 1) * (0.5 + Math.random() / 2);
}

/** Errors that mean "not up yet" (worth waiting for), unlike bad credentials or a missing database. */
const RETRYABLE = new Set(['ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'ETIMEDOUT', 'CONNECT_TIMEOUT', '57P03']);
/** A worker attaching to main's embedded server can arrive before main has created the database. */
const RETRYABLE_WHEN_ATTACHING = new Set([...RETRYABLE, '3D000']);

export async function openDatabase(settings: DatabaseSettings, opts: OpenOptions): Promise<Database> {
  let embedded: EmbeddedPostgres | undefined;
  let target: ConnectionTarget;
  const deadline = Date.now() + (opts.waitMs ?? 0);
  if (settings.kind === 'embedded' && opts.startEmbedded !== false) {
    embedded = new EmbeddedPostgres(settings.dataDir, opts.log);
    target = await embedded.start();
  } else if (settings.kind === 'embedded') {
    let attached = EmbeddedPostgres.attachTarget(settings.dataDir);
    while (!attached && Date.now() < deadline) {
      await sleep(500);
      attached = EmbeddedPostgres.attachTarget(settings.dataDir);
    }
    if (!attached) throw new Error(`main has not initialised the embedded database at ${settings.dataDir} yet`);
    target = attached;
  } else {
    target = settings;
  }
  const max = settings.kind === 'postgres' ? (settings.poolMax ?? 10) : 10;
  const sql = postgres({
    host: target.host,
    port: target.port,
    user: target.user,
    password: target.password,
    database: target.database,
    max,
    idle_timeout: 60,
    connect_timeout: 10,
    // After a connection error postgres.js waits before reconnecting, by default (3^n)/100 s up to 20 s
    // with n counting errors across the whole pool, so once the database is back (main restarting the
    // embedded Postgres, a failover) queries would still wait up to 20 s. Retry within a second instead.
    backoff: reconnectDelaySeconds,
    onnotice: () => {},
    connection: { application_name: opts.applicationName },
    types: { bigint: { to: 20, from: [20], serialize: (x: number) => String(x), parse: (x: string) => Number(x) } },
  }) as unknown as Sql;
  try {
    for (;;) {
      try {
        await sql`select 1`;
        break;
      } catch (e) {
        const retryable = settings.kind === 'embedded' && !embedded ? RETRYABLE_WHEN_ATTACHING : RETRYABLE;
        if (Date.now() >= deadline || !retryable.has(String((e as { code?: unknown }).code))) throw e;
        opts.log.info('waiting for the database', { error: (e as Error).message });
        await sleep(1000);
      }
    }
  } catch (e) {
    await sql.end({ timeout: 1 }).catch(() => {});
    await embedded?.stop();
    const where = settings.kind === 'embedded' ? `the embedded database at ${settings.dataDir}` : `${target.user}@${target.host}:${target.port}/${target.database}`;
    throw new Error(`cannot connect to ${where}: ${(e as Error).message}`);
  }
  return {
    sql,
    target,
    async close() {
      await sql.end({ timeout: 5 });
      await embedded?.stop();
    },
  };
}
