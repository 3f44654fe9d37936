import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { silentLogger, type Logger } from '@hs/core';
import { applyMigrations, readMigrations, waitForSchema } from '../src/migrations.ts';
import { createTestDatabase } from '../src/testing.ts';

function recordingLogger(lines: string[]): Logger {
  return { ...silentLogger, info: (m) => lines.push(m) };
}

function migrationsIn(files: Record<string, string>) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hs-mig-'));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return readMigrations(dir);
}

test('migrations apply once, in order, with progress lines', async () => {
  const db = await createTestDatabase({ migrate: false });
  try {
    const lines: string[] = [];
    const applied = await applyMigrations(db.sql, recordingLogger(lines));
    assert.equal(applied, readMigrations().length);
    assert.ok(lines.some((l) => /\[1\/\d+\] applying 0001_streams\.sql/.test(l)), lines.join('\n'));
    assert.equal(await applyMigrations(db.sql, silentLogger), 0);
    const [row] = await db.sql`SELECT count(*)::int AS n FROM stream_positions`;
    assert.equal(row?.n, 0);
  } finally {
    await db.close();
  }
});

test('concurrent appliers serialise on the advisory lock and apply each migration once', async () => {
  const db = await createTestDatabase({ migrate: false });
  try {
    const ms = migrationsIn({
      '0001_a.sql': 'CREATE TABLE a (x int); SELECT pg_sleep(0.2);',
      '0002_b.sql': 'CREATE TABLE b (x int);',
    });
    const results = await Promise.all([1, 2, 3].map(() => applyMigrations(db.sql, silentLogger, ms)));
    assert.deepEqual(results.sort(), [0, 0, 2]);
  } finally {
    await db.close();
  }
});

test('a failing migration rolls back and is not recorded', async () => {
  const db = await createTestDatabase({ migrate: false });
  try {
    const ms = migrationsIn({ '0001_ok.sql': 'CREATE TABLE ok (x int);', '0002_bad.sql': 'CREATE TABLE half (x int); SELECT nonsense;' });
    await assert.rejects(applyMigrations(db.sql, silentLogger, ms), /nonsense/);
    const tables = await db.sql`SELECT to_regclass('half') IS NULL AS gone, to_regclass('ok') IS NOT NULL AS kept`;
    assert.deepEqual({ ...tables[0] }, { gone: true, kept: true });
    const names = await db.sql`SELECT name FROM schema_migrations ORDER BY name`;
    assert.deepEqual(names.map((r) => r.name), ['0001_ok.sql']);
  } finally {
    await db.close();
  }
});

test('an edited applied migration, or one from a newer version, stops start-up', async () => {
  const db = await createTestDatabase({ migrate: false });
  try {
    await applyMigrations(db.sql, silentLogger, migrationsIn({ '0001_a.sql': 'CREATE TABLE a (x int);' }));
    await assert.rejects(
      applyMigrations(db.sql, silentLogger, migrationsIn({ '0001_a.sql': 'CREATE TABLE a (y int);' })),
      /0001_a\.sql changed after it was applied/,
    );
    await assert.rejects(applyMigrations(db.sql, silentLogger, migrationsIn({})), /written by a newer homeserver/);
  } finally {
    await db.close();
  }
});

test('workers wait for the schema and proceed once main has migrated', async () => {
  const db = await createTestDatabase({ migrate: false });
  try {
    let done = false;
    const waiting = waitForSchema(db.sql, silentLogger, { pollMs: 20 }).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(done, false);
    await applyMigrations(db.sql, silentLogger);
    await waiting;
    assert.equal(done, true);
    await assert.rejects(
      waitForSchema(db.sql, silentLogger, { timeoutMs: 50, pollMs: 10, migrations: migrationsIn({ '9999_future.sql': 'x' }) }),
      /written by a newer homeserver|behind/,
    );
  } finally {
    await db.close();
  }
});
