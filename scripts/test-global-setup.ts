/**
 * Runs once per `npm test`: one embedded Postgres for every test file (each file makes its own database
 * on it), so the suite pays for initdb once. Test files inherit HS_TEST_PG from here.
 */
import { startTemporaryPostgres } from '@hs/storage/testing';

let stop: (() => Promise<void>) | undefined;

export async function globalSetup(): Promise<void> {
  if (process.env.HS_TEST_PG) return;
  const started = Date.now();
  const server = await startTemporaryPostgres();
  stop = server.stop;
  process.env.HS_TEST_PG = JSON.stringify(server.target);
  console.log(`test Postgres ready in ${Date.now() - started} ms (${server.target.host})`);
}

export async function globalTeardown(): Promise<void> {
  await stop?.();
}
