/**
 * Postgres restarting under load (an operator restarting it, or main restarting its embedded one) must
 * neither crash a process nor leave its pool hanging: queries fail while it is away, then work again
 * within a moment. This guards the postgres.js fix in packages/storage/patches (applied on install).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { silentLogger } from '@hs/core';
import { EmbeddedPostgres } from '../src/embedded-postgres.ts';
import { openDatabase } from '../src/database.ts';

test('a pool survives Postgres restarting under load and recovers within seconds', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hs-pg-restart-'));
  fs.chmodSync(dir, 0o711);
  let pg = new EmbeddedPostgres(dir, silentLogger);
  const target = await pg.start();
  const crashes: unknown[] = [];
  const onCrash = (e: unknown) => void crashes.push(e);
  process.on('uncaughtException', onCrash);
  const db = await openDatabase({ kind: 'postgres', ...target, poolMax: 10 }, { log: silentLogger, applicationName: 'restart-test' });
  let stop = false;
  let lastOk = 0;
  const errors = new Map<string, number>();
  // Transactions and pipelined statements with large and small parameters, as the server issues them.
  const workers = Array.from({ length: 12 }, async (_, i) => {
    while (!stop) {
      try {
        if (i % 3 === 0) {
          await db.sql.begin(async (tx) => {
            await tx`SELECT pg_sleep(0.01)`;
            await tx`SELECT ${'x'.repeat(i % 2 ? 50 : 2000)}::text`;
          });
        } else await db.sql`SELECT ${'y'.repeat(100)}::text, pg_sleep(0.005)`;
        lastOk = Date.now();
      } catch (e) {
        const code = String((e as { code?: unknown }).code ?? e);
        errors.set(code, (errors.get(code) ?? 0) + 1);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  });
  try {
    await new Promise((r) => setTimeout(r, 500));
    await pg.stop();
    await new Promise((r) => setTimeout(r, 800));
    pg = new EmbeddedPostgres(dir, silentLogger);
    await pg.start();
    const back = Date.now();
    while (lastOk < back && Date.now() - back < 8000) await new Promise((r) => setTimeout(r, 50));
    assert.ok(lastOk >= back, `queries work again after the restart (errors: ${JSON.stringify([...errors])})`);
    // Every worker gets through, none is stuck behind a dead connection.
    const done = new Set<number>();
    await Promise.race([
      Promise.all(
        Array.from({ length: 12 }, async (_, i) => {
          await db.sql`SELECT 1`;
          done.add(i);
        }),
      ),
      new Promise((r) => setTimeout(r, 5000)),
    ]);
    assert.equal(done.size, 12, 'the whole pool answers');
    assert.deepEqual(crashes, [], 'no uncaught exception');
  } finally {
    stop = true;
    await Promise.race([Promise.all(workers), new Promise((r) => setTimeout(r, 5000))]);
    process.off('uncaughtException', onCrash);
    await db.close();
    await pg.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
