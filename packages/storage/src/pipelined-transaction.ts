/**
 * A transaction whose BEGIN travels with its first statements and whose COMMIT travels with its last
 * ones, on one reserved connection. postgres.js's `begin()` waits for BEGIN before running the work and
 * for the work before sending COMMIT: a transaction of two dependent steps costs four round trips
 * there and two here. On a busy server every round trip is a wake-up of the database and of us, and
 * one more turn of the event loop on the path of whoever waits for the commit (a message's sender).
 *
 * Statements after a failed one fail too (the transaction is aborted), and a COMMIT of an aborted
 * transaction rolls it back: the work's first error is what the caller sees, and nothing is committed.
 */
import type postgres from 'postgres';
import type { Sql } from './database.ts';
import { isAmbiguousOutcome } from './stream-writer.ts';

export type ReservedSql = postgres.ReservedSql<Record<string, never>>;

export class TransactionRolledBackError extends Error {
  override readonly name = 'TransactionRolledBackError';
}

/** A statement not sent yet (postgres.js sends a query when it is first awaited or executed). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any row shape
export type Statement = postgres.PendingQuery<any>;

/**
 * Ends the transaction: sends `last` (the final statements, in order) and COMMIT right behind them,
 * and resolves once all of them and the commit succeeded.
 */
export type CommitWith = (last: readonly Statement[]) => Promise<void>;

/**
 * Run `work` in a transaction. Statements `work` issues before its first await go out with BEGIN
 * (where their order matters, `.execute()` them in that order); `work` must end by calling `commit`
 * (once) with its final statements.
 */
export async function pipelinedTransaction<T>(sql: Sql, work: (tx: ReservedSql, commit: CommitWith) => Promise<T>): Promise<T> {
  const tx = (await sql.reserve()) as ReservedSql;
  let state: 'open' | 'committed' | 'ended' = 'open';
  const commit: CommitWith = async (last) => {
    if (state !== 'open') throw new Error('commit called twice');
    // Executed explicitly, in order: awaiting would send them a microtask later, after the COMMIT.
    for (const q of last) q.execute();
    const done = tx`COMMIT`.execute();
    const lastSettled = Promise.allSettled(last);
    state = 'ended';
    const [settled, answer] = await Promise.all([lastSettled, done]);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    // COMMIT of a transaction aborted by a failed statement answers ROLLBACK instead of failing.
    if (answer.command !== 'COMMIT') throw new TransactionRolledBackError(`the transaction was rolled back (${answer.command})`);
    state = 'committed';
  };
  try {
    // Executed now, so it goes out ahead of every statement the work issues (an awaited query is sent
    // a microtask later than one executed explicitly).
    const begun = tx`BEGIN`.execute();
    // Both settle before the connection goes back to the pool: work still running must not issue
    // statements on a connection someone else holds.
    const [b, w] = await Promise.allSettled([begun, work(tx, commit)]);
    if (b.status === 'rejected') throw b.reason;
    if (w.status === 'rejected') throw w.reason;
    if (state === 'open') throw new Error('pipelined transaction ended without commit');
    return w.value;
  } catch (e) {
    // Still open: roll back what the work did (a rollback outside a transaction is only a warning).
    // Not on a lost connection: the transaction went with it, and a statement on it may never answer.
    if (state === 'open' && !isAmbiguousOutcome(e)) await tx`ROLLBACK`.catch(() => {});
    throw e;
  } finally {
    tx.release();
  }
}
