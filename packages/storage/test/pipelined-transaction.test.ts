import test from 'node:test';
import assert from 'node:assert/strict';
import { pipelinedTransaction, TransactionRolledBackError } from '../src/pipelined-transaction.ts';
import { createTestDatabase, type TestDatabase } from '../src/testing.ts';

let db: TestDatabase;
test.before(async () => {
  db = await createTestDatabase({ migrate: false });
  await db.sql`CREATE TABLE pt (id int PRIMARY KEY, note text)`;
});
test.after(async () => {
  await db?.close();
});

const rows = async () => (await db.sql<{ id: number }[]>`SELECT id FROM pt ORDER BY id`).map((r) => r.id);

test('every statement runs in one transaction, invisible to others until the commit', async () => {
  await db.sql`TRUNCATE pt`;
  let seenFromOutside: number[] | undefined;
  const ids = await pipelinedTransaction(db.sql, async (tx, commit) => {
    // Issued at once, so it travels with BEGIN: it must still be inside the transaction.
    const [first] = await tx<{ x: string }[]>`SELECT txid_current()::text AS x`;
    await tx`INSERT INTO pt VALUES (1, 'a')`;
    seenFromOutside = await rows();
    const last = tx<{ x: string }[]>`SELECT txid_current()::text AS x`;
    await commit([tx`INSERT INTO pt VALUES (2, 'b')`, last]);
    return [first?.x, (await last)[0]?.x];
  });
  assert.ok(ids[0] !== undefined);
  assert.equal(ids[0], ids[1], 'first and last statement share a transaction');
  assert.deepEqual(seenFromOutside, []);
  assert.deepEqual(await rows(), [1, 2]);
});

test('a failing final statement rolls everything back and its error is what the caller sees', async () => {
  await db.sql`TRUNCATE pt`;
  await assert.rejects(
    pipelinedTransaction(db.sql, async (tx, commit) => {
      await tx`INSERT INTO pt VALUES (1, 'a')`;
      await commit([tx`INSERT INTO pt VALUES (2, 'b')`, tx`INSERT INTO pt VALUES (2, 'duplicate')`, tx`INSERT INTO pt VALUES (3, 'c')`]);
    }),
    (e: { code?: string }) => e.code === '23505',
  );
  assert.deepEqual(await rows(), []);
});

test('work that throws before committing is rolled back, and the connection is usable again', async () => {
  await db.sql`TRUNCATE pt`;
  await assert.rejects(
    pipelinedTransaction(db.sql, async (tx) => {
      await tx`INSERT INTO pt VALUES (1, 'a')`;
      throw new Error('changed my mind');
    }),
    /changed my mind/,
  );
  assert.deepEqual(await rows(), []);
  // Every pooled connection is out of any transaction: concurrent transactions all commit.
  await Promise.all(
    Array.from({ length: 30 }, (_, i) =>
      pipelinedTransaction(db.sql, async (tx, commit) => {
        await commit([tx`INSERT INTO pt VALUES (${i + 10}, 'x')`]);
      }),
    ),
  );
  assert.equal((await rows()).length, 30);
});

test('work that forgets to commit is an error and leaves nothing behind', async () => {
  await db.sql`TRUNCATE pt`;
  await assert.rejects(
    pipelinedTransaction(db.sql, async (tx) => {
      await tx`INSERT INTO pt VALUES (1, 'a')`;
    }),
    /without commit/,
  );
  assert.deepEqual(await rows(), []);
});

test('a statement failing unobserved mid-way makes COMMIT a rollback, reported as such', async () => {
  await db.sql`TRUNCATE pt`;
  await assert.rejects(
    pipelinedTransaction(db.sql, async (tx, commit) => {
      // Nobody awaits this failure before the commit is sent.
      tx`INSERT INTO pt VALUES (1, 'a'), (1, 'b')`.execute().then(undefined, () => {});
      await new Promise((r) => setTimeout(r, 50));
      await commit([tx`INSERT INTO pt VALUES (5, 'e')`]);
    }),
    (e: unknown) => e instanceof TransactionRolledBackError || (e as { code?: string }).code === '25P02',
  );
  assert.deepEqual(await rows(), []);
});
