/**
 * Stream ID allocation throughput: 8 concurrent writers of one multi-writer stream, each allocating,
 * (optionally) committing a row per ID, and finishing — with the reader-side minimum kept up to date,
 * as in a real fleet. Prints IDs/s for allocation alone and for allocate+commit.
 *
 *   npm run bench:streams [-- --seconds 5 --writers 8 --batch 1]
 */
import { parseArgs } from 'node:util';
import { silentLogger } from '@hs/core';
import { StreamWriter } from '../src/stream-writer.ts';
import { StreamPositions } from '../src/stream-positions.ts';
import { createTestDatabase, startTemporaryPostgres } from '../src/testing.ts';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '5' }, writers: { type: 'string', default: '8' }, batch: { type: 'string', default: '1' } },
});
const seconds = Number(values.seconds);
const writerCount = Number(values.writers);
const batch = Number(values.batch);

const server = process.env.HS_TEST_PG ? undefined : await startTemporaryPostgres();
if (server) process.env.HS_TEST_PG = JSON.stringify(server.target);
const db = await createTestDatabase();
await db.sql`CREATE TABLE bench_rows (id BIGINT PRIMARY KEY, writer TEXT NOT NULL)`;

async function run(label: string, commitRows: boolean): Promise<void> {
  const writers = await Promise.all(
    Array.from({ length: writerCount }, (_, i) => StreamWriter.open(db.sql, 'federation', `bench${i}`, silentLogger)),
  );
  const positions = new StreamPositions(writers.map((w) => [w.instanceName, w.position]));
  for (const w of writers) {
    w.onAdvance((p) => {
      positions.advance(w.instanceName, p);
      for (const o of writers) if (o !== w) o.observe(p);
    });
  }
  let ids = 0;
  const deadline = Date.now() + seconds * 1000;
  const started = process.hrtime.bigint();
  await Promise.all(
    writers.map(async (w) => {
      while (Date.now() < deadline) {
        await w.withIds(batch, async (allocated) => {
          if (commitRows) {
            await db.sql`INSERT INTO bench_rows ${db.sql(allocated.map((id) => ({ id, writer: w.instanceName })))}`;
          }
          ids += allocated.length;
        });
      }
    }),
  );
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(
    `${label}: ${writerCount} writers, batch ${batch}: ${ids} IDs in ${elapsed.toFixed(2)} s = ${Math.round(ids / elapsed)} IDs/s; ` +
      `reader minimum ${positions.persistedUpTo()}`,
  );
}

await run('allocate only', false);
await run('allocate + commit row', true);
await db.close();
await server?.stop();
