/**
 * Multi-writer positions on the events stream: a row is inside a token position when its stream ID is
 * at or below its own writer's entry (or the minimum). The SQL conditions must agree with `within`.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { MatrixError, positionOf } from '@hs/core';
import { createTestDatabase, type TestDatabase } from '@hs/storage/testing';
import { InstanceNames, sqlAfter, sqlWithin, within } from '../src/positions.ts';

let db: TestDatabase;
test.before(async () => {
  db = await createTestDatabase();
  await db.sql`INSERT INTO instances (instance_name) VALUES ('w1'), ('w2'), ('w3')`;
  await db.sql`CREATE TABLE pos_rows (stream_ordering BIGINT, instance_name TEXT)`;
  const rows = Array.from({ length: 30 }, (_, i) => ({ stream_ordering: i + 1, instance_name: `w${(i % 3) + 1}` }));
  await db.sql`INSERT INTO pos_rows ${db.sql(rows)}`;
});
test.after(async () => {
  await db.close();
});

test('SQL within/after agree with the JS rule for positions with and without writers ahead', async () => {
  const names = new InstanceNames(db.sql);
  const ids = new Map((await db.sql<{ instance_id: number; instance_name: string }[]>`SELECT * FROM instances`).map((r) => [r.instance_name, Number(r.instance_id)]));
  const tokens = [
    positionOf(10),
    positionOf(10, [[ids.get('w2') as number, 17]]),
    positionOf(12, [[ids.get('w1') as number, 20], [ids.get('w3') as number, 14]]),
  ];
  const all = await db.sql<{ stream_ordering: number; instance_name: string }[]>`SELECT * FROM pos_rows ORDER BY stream_ordering`;
  for (const t of tokens) {
    const p = await names.resolve(t);
    const inside = await db.sql<{ stream_ordering: number }[]>`
      SELECT stream_ordering FROM pos_rows WHERE ${sqlWithin(db.sql, p, 'stream_ordering', 'instance_name')} ORDER BY stream_ordering`;
    const after = await db.sql<{ stream_ordering: number }[]>`
      SELECT stream_ordering FROM pos_rows WHERE ${sqlAfter(db.sql, p, 'stream_ordering', 'instance_name')} ORDER BY stream_ordering`;
    const expected = all.filter((r) => within(p, Number(r.stream_ordering), r.instance_name)).map((r) => Number(r.stream_ordering));
    assert.deepEqual(inside.map((r) => Number(r.stream_ordering)), expected);
    assert.deepEqual(after.map((r) => Number(r.stream_ordering)), all.map((r) => Number(r.stream_ordering)).filter((s) => !expected.includes(s)));
  }
  const p = await names.resolve(tokens[1] as ReturnType<typeof positionOf>);
  assert.equal(within(p, 17, 'w2'), true);
  assert.equal(within(p, 17, 'w1'), false);
  assert.equal(within(p, 10, 'w3'), true);
  assert.equal(p.max, 17);
});

test('an unknown writer in a token is a 400', async () => {
  const names = new InstanceNames(db.sql);
  await assert.rejects(names.resolve(positionOf(1, [[999, 5]])), (e) => e instanceof MatrixError && e.errcode === 'M_INVALID_PARAM');
});
