/**
 * Forward-only SQL migrations. `main` applies them under a Postgres advisory lock (so two mains, or a
 * restart racing a slow shutdown, cannot interleave); workers wait until the schema is current.
 * An applied migration is never edited: its checksum is recorded and a changed file stops start-up.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '@hs/core';
import type { Sql } from './database.ts';

export const MIGRATIONS_DIR = path.resolve(import.meta.dirname, '../migrations');
/** Arbitrary constant identifying the migration lock among advisory locks. */
const MIGRATION_LOCK_KEY = 7_304_101_001;

export interface Migration {
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
}

export function readMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return fs
    .readdirSync(dir)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((name) => {
      const text = fs.readFileSync(path.join(dir, name), 'utf8');
      return { name, sql: text, checksum: createHash('sha256').update(text).digest('hex') };
    });
}

async function ensureTable(sql: Sql): Promise<void> {
  await sql`CREATE TABLE IF NOT EXISTS schema_migrations (
    name TEXT PRIMARY KEY, checksum TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`;
}

async function appliedChecksums(sql: Sql): Promise<Map<string, string>> {
  const exists = await sql`SELECT to_regclass('schema_migrations') IS NOT NULL AS present`;
  if (!exists[0]?.present) return new Map();
  const rows = await sql<{ name: string; checksum: string }[]>`SELECT name, checksum FROM schema_migrations`;
  return new Map(rows.map((r) => [r.name, r.checksum]));
}

function verifyApplied(migrations: Migration[], applied: Map<string, string>): void {
  const known = new Set(migrations.map((m) => m.name));
  for (const m of migrations) {
    const sum = applied.get(m.name);
    if (sum !== undefined && sum !== m.checksum) {
      throw new Error(`migration ${m.name} changed after it was applied; migrations are forward-only, add a new one instead`);
    }
  }
  for (const name of applied.keys()) {
    if (!known.has(name)) {
      throw new Error(`the database has migration ${name}, which this version does not know: it was written by a newer homeserver`);
    }
  }
}

export async function applyMigrations(sql: Sql, log: Logger, migrations = readMigrations()): Promise<number> {
  const conn = await sql.reserve();
  try {
    await conn`SELECT pg_advisory_lock(${MIGRATION_LOCK_KEY})`;
    try {
      await ensureTable(conn as unknown as Sql);
      const applied = await appliedChecksums(conn as unknown as Sql);
      verifyApplied(migrations, applied);
      const pending = migrations.filter((m) => !applied.has(m.name));
      if (pending.length === 0) {
        log.info('database schema is up to date', { migrations: migrations.length });
        return 0;
      }
      log.info(`applying ${pending.length} database migration(s)`);
      let i = 0;
      for (const m of pending) {
        i++;
        const started = Date.now();
        log.info(`schema: [${i}/${pending.length}] applying ${m.name}`);
        // A reserved connection has no begin(): run the transaction by hand on it.
        await conn.unsafe('BEGIN');
        try {
          await conn.unsafe(m.sql);
          await conn`INSERT INTO schema_migrations (name, checksum) VALUES (${m.name}, ${m.checksum})`;
          await conn.unsafe('COMMIT');
        } catch (e) {
          await conn.unsafe('ROLLBACK');
          throw e;
        }
        log.info(`schema: [${i}/${pending.length}] ${m.name} done`, { ms: Date.now() - started });
      }
      return pending.length;
    } finally {
      await conn`SELECT pg_advisory_unlock(${MIGRATION_LOCK_KEY})`;
    }
  } finally {
    conn.release();
  }
}

/** Workers never migrate: they wait (with a log line now and then) until main has. */
export async function waitForSchema(
  sql: Sql,
  log: Logger,
  opts: { timeoutMs?: number; pollMs?: number; migrations?: Migration[] } = {},
): Promise<void> {
  const migrations = opts.migrations ?? readMigrations();
  const deadline = Date.now() + (opts.timeoutMs ?? 600_000);
  let lastLog = 0;
  for (;;) {
    const applied = await appliedChecksums(sql);
    verifyApplied(migrations, applied);
    const pending = migrations.filter((m) => !applied.has(m.name)).length;
    if (pending === 0) return;
    if (Date.now() - lastLog > 10_000) {
      log.info(`waiting for main to apply ${pending} database migration(s)`);
      lastLog = Date.now();
    }
    if (Date.now() > deadline) throw new Error(`the database schema is ${pending} migration(s) behind and main did not apply them`);
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 500));
  }
}
