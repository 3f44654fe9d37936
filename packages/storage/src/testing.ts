/**
 * Test support: a fresh, migrated database per test file on a real Postgres. Under `npm test` the
 * global setup starts one embedded server for the whole run and passes it in HS_TEST_PG; a test file
 * run on its own starts a private embedded server instead.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { silentLogger } from '@hs/core';
import type { ConnectionTarget } from './connection-settings.ts';
import { openDatabase, type Database } from './database.ts';
import { EmbeddedPostgres } from './embedded-postgres.ts';
import { applyMigrations } from './migrations.ts';

let privateServer: Promise<ConnectionTarget> | undefined;

/** Start an embedded server in a temporary directory (removed on `stop`). */
export async function startTemporaryPostgres(opts: { detach?: boolean } = {}): Promise<{ target: ConnectionTarget; stop(): Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hs-test-pg-'));
  fs.chmodSync(dir, 0o711);
  const server = new EmbeddedPostgres(dir, silentLogger);
  const target = await server.start();
  if (opts.detach) server.detachOnExit();
  return {
    target,
    async stop() {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function serverTarget(): Promise<ConnectionTarget> {
  const fromEnv = process.env.HS_TEST_PG;
  if (fromEnv) return Promise.resolve(JSON.parse(fromEnv) as ConnectionTarget);
  // Run alone (not under `npm test`): a private server that shuts down when this process exits.
  privateServer ??= startTemporaryPostgres({ detach: true }).then((s) => s.target);
  return privateServer;
}

export interface TestDatabase extends Database {
  readonly name: string;
}

/** A new database with every migration applied. `close()` drops it. */
export async function createTestDatabase(opts: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const server = await serverTarget();
  const name = `t_${randomBytes(6).toString('hex')}`;
  const admin = postgres({ ...server, database: 'postgres', max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  await admin.end();
  const db = await openDatabase({ kind: 'postgres', ...server, database: name, poolMax: 20 }, { log: silentLogger, applicationName: 'test' });
  if (opts.migrate !== false) await applyMigrations(db.sql, silentLogger);
  return {
    ...db,
    name,
    async close() {
      await db.close();
      const a = postgres({ ...server, database: 'postgres', max: 1, onnotice: () => {} });
      await a.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}
