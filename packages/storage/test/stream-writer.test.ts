import test from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '@hs/core';
import { StreamWriter } from '../src/stream-writer.ts';
import { InstanceIds, StreamPositions } from '../src/stream-positions.ts';
import { createTestDatabase, type TestDatabase } from '../src/testing.ts';

let db: TestDatabase;
test.before(async () => {
  db = await createTestDatabase();
});
test.after(async () => {
  await db?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a single writer advances only past finished IDs, whatever the commit order', async () => {
  const w = await StreamWriter.open(db.sql, 'receipts', 'main', silentLogger);
  const start = w.position;
  const [a, b, c] = await w.allocate(3);
  assert.ok(a !== undefined && b !== undefined && c !== undefined);
  assert.equal(w.position, start);
  w.finish([c]);
  assert.equal(w.position, a - 1, 'c finished first: still held back by a and b');
  w.finish([a]);
  assert.equal(w.position, b - 1);
  w.finish([b]);
  assert.equal(w.position, c);
});

test('an idle writer advances when it observes other writers', async () => {
  const w = await StreamWriter.open(db.sql, 'account_data', 'w1', silentLogger);
  const other = await StreamWriter.open(db.sql, 'account_data', 'w2', silentLogger);
  const seen: number[] = [];
  w.onAdvance((p) => seen.push(p));
  const theirs = await other.allocate(10);
  const top = theirs[9] ?? 0;
  w.observe(top);
  assert.deepEqual(seen, [top], 'idle: nothing of ours can commit at or below what others allocated');
  const [mine] = await w.allocate();
  assert.ok(mine !== undefined && mine > top);
  const more = await other.allocate(5);
  w.observe(more[4] ?? 0);
  assert.equal(w.position, mine - 1, 'an in-flight ID holds the position back even when others are ahead');
  w.finish([mine]);
  assert.equal(w.position, more[4]);
});

test('positions are recorded forward-only in stream_positions', async () => {
  const w = await StreamWriter.open(db.sql, 'presence', 'main', silentLogger);
  await w.withIds(2, async () => {});
  await w.flush();
  const [row] = await db.sql`SELECT stream_id FROM stream_positions WHERE stream_name = 'presence' AND instance_name = 'main'`;
  assert.equal(Number(row?.stream_id), w.position);
  await db.sql`UPDATE stream_positions SET stream_id = stream_id + 1000 WHERE stream_name = 'presence'`;
  await w.withIds(1, async () => {});
  await w.flush();
  const [after] = await db.sql`SELECT stream_id FROM stream_positions WHERE stream_name = 'presence' AND instance_name = 'main'`;
  assert.equal(Number(after?.stream_id), Number(row?.stream_id) + 1000, 'never moved backwards');
  const loaded = await StreamPositions.load(db.sql, 'presence', ['main', 'other']);
  assert.equal(loaded.get('main'), Number(after?.stream_id));
  assert.equal(loaded.persistedUpTo(), 0, 'a writer with no record holds the minimum at 0');
});

test('rejects a bad allocation count and bad stream names', async () => {
  const w = await StreamWriter.open(db.sql, 'to_device', 'main', silentLogger);
  await assert.rejects(w.allocate(0), RangeError);
  await assert.rejects(StreamWriter.open(db.sql, 'x; drop table', 'main', silentLogger), /invalid stream name/);
});

test('instance IDs are stable and shared', async () => {
  const a = new InstanceIds(db.sql);
  const b = new InstanceIds(db.sql);
  const idA = await a.idFor('event_persister1');
  assert.equal(await b.idFor('event_persister1'), idA);
  assert.notEqual(await a.idFor('event_persister2'), idA);
  await b.refresh();
  assert.equal(b.nameFor(idA), 'event_persister1');
});

/**
 * The core guarantee: 8 writers allocate from one sequence and commit out of order (some roll back);
 * a reader repeatedly takes the minimum of their positions and reads every row at or below it. No
 * row at or below a position the reader used may appear later.
 */
test('readers never see a position beyond an unfinished ID (8 concurrent writers)', async () => {
  await db.sql`CREATE TABLE stream_rows (id BIGINT PRIMARY KEY, writer TEXT NOT NULL)`;
  const names = Array.from({ length: 8 }, (_, i) => `writer${i}`);
  const writers = await Promise.all(names.map((n) => StreamWriter.open(db.sql, 'federation', n, silentLogger)));
  const positions = new StreamPositions(writers.map((w) => [w.instanceName, w.position]));
  // In-process stand-in for replication: every writer hears every other's advances.
  for (const w of writers) {
    w.onAdvance((p) => {
      positions.advance(w.instanceName, p);
      for (const other of writers) if (other !== w) other.observe(p);
    });
  }
  let running = true;
  const committed = new Set<number>();
  const snapshots: Array<{ upTo: number; seen: Set<number> }> = [];

  const writerLoop = async (w: StreamWriter, seed: number) => {
    let n = 0;
    while (running) {
      n++;
      const rollback = (n + seed) % 7 === 0;
      await w
        .withIds(1 + ((n + seed) % 3), async (ids) => {
          await db.sql.begin(async (tx) => {
            for (const id of ids) await tx`INSERT INTO stream_rows (id, writer) VALUES (${id}, ${w.instanceName})`;
            await sleep(Math.floor(Math.random() * 8));
            if (rollback) throw new Error('rollback');
          });
          for (const id of ids) committed.add(id);
        })
        .catch((e: Error) => {
          if (e.message !== 'rollback') throw e;
        });
    }
  };
  const readerLoop = async () => {
    while (running) {
      const upTo = positions.persistedUpTo();
      const rows = await db.sql`SELECT id FROM stream_rows WHERE id <= ${upTo}`;
      snapshots.push({ upTo, seen: new Set(rows.map((r) => Number(r.id))) });
      await sleep(3);
    }
  };
  const loops = [...writers.map((w, i) => writerLoop(w, i)), readerLoop(), readerLoop()];
  await sleep(2500);
  running = false;
  await Promise.all(loops);

  assert.ok(committed.size > 200, `expected real concurrency, got ${committed.size} commits`);
  assert.ok(snapshots.length > 50);
  const final = await db.sql`SELECT id FROM stream_rows`;
  const all = final.map((r) => Number(r.id));
  let checked = 0;
  for (const { upTo, seen } of snapshots) {
    for (const id of all) {
      if (id <= upTo) {
        assert.ok(seen.has(id), `row ${id} appeared after a reader was told everything up to ${upTo} was persisted`);
        checked++;
      }
    }
  }
  assert.ok(checked > 0);
  assert.ok(positions.persistedUpTo() >= Math.max(...all), 'once idle, the minimum catches up with every commit');
});

test('a write whose outcome is unknown (connection lost) is reported as uncertain before its IDs are released', async () => {
  const w = await StreamWriter.open(db.sql, 'receipts', 'uncertain-test', silentLogger);
  const reported: number[][] = [];
  const positionsAtReport: number[] = [];
  w.onUncertain((ids) => {
    reported.push([...ids]);
    positionsAtReport.push(w.position);
  });
  const lost = Object.assign(new Error('write CONNECTION_CLOSED'), { code: 'CONNECTION_CLOSED' });
  await assert.rejects(w.withIds(2, async () => Promise.reject(lost)));
  assert.equal(reported.length, 1);
  assert.equal(reported[0]?.length, 2);
  assert.ok((positionsAtReport[0] as number) < Math.min(...(reported[0] as number[])), 'the position had not passed them yet');
  // A definite failure (a constraint, a bad value) is not uncertain.
  const definite = Object.assign(new Error('duplicate key'), { code: '23505' });
  await assert.rejects(w.withIds(1, async () => Promise.reject(definite)));
  assert.equal(reported.length, 1);
});
