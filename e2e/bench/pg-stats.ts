/**
 * `--pg-stats` for the load benchmarks: which SQL statements a run executed, how often per persisted
 * event and what they cost inside Postgres (pg_stat_statements), so a change that adds a query to a hot
 * path shows up as a number. Only for embedded Postgres targets, started with the extension preloaded.
 */
import postgres from 'postgres';
import type { Target } from './targets.ts';

/** Call before starting a target: its embedded Postgres then preloads pg_stat_statements. */
export function preloadPgStats(): void {
  process.env.HS_EMBEDDED_POSTGRES_SETTINGS = [process.env.HS_EMBEDDED_POSTGRES_SETTINGS, 'shared_preload_libraries=pg_stat_statements']
    .filter(Boolean)
    .join(' ');
}

function connect(target: Target): postgres.Sql | undefined {
  if (!target.postgres) {
    console.log(`[${target.name}] --pg-stats: no embedded Postgres to read statistics from`);
    return undefined;
  }
  return postgres({ ...target.postgres, max: 1, onnotice: () => {} });
}

/**
 * Give the planner statistics after set-up, as a server that has run for a while has them (autovacuum
 * analyzes within minutes; a benchmark's fresh database would otherwise be planned as empty).
 */
export async function analyzeDatabase(target: Target): Promise<void> {
  const sql = connect(target);
  if (!sql) return;
  try {
    await sql`ANALYZE`;
  } finally {
    await sql.end();
  }
}

/** Start counting from zero (after set-up, before the load phase). */
export async function resetPgStats(target: Target): Promise<void> {
  const sql = connect(target);
  if (!sql) return;
  try {
    await sql`CREATE EXTENSION IF NOT EXISTS pg_stat_statements`;
    await sql`SELECT pg_stat_statements_reset()`;
  } finally {
    await sql.end();
  }
}

/** Print the statements that took longest, then those that ran most often: calls per event and cost. */
export async function printPgStats(target: Target, events: number, top = 25): Promise<void> {
  const sql = connect(target);
  if (!sql) return;
  try {
    const rows = await sql<{ calls: string; total_ms: number; max_ms: number; rows: string; blocks: string; query: string }[]>`
      SELECT calls, total_exec_time AS total_ms, max_exec_time AS max_ms, rows, shared_blks_hit + shared_blks_read AS blocks, query FROM pg_stat_statements
      WHERE query NOT ILIKE '%pg_stat_statements%' ORDER BY calls DESC`;
    const calls = rows.reduce((sum, r) => sum + Number(r.calls), 0);
    const ms = rows.reduce((sum, r) => sum + r.total_ms, 0);
    console.log(`\n[${target.name}] SQL: ${calls} statements (${(calls / Math.max(1, events)).toFixed(1)} per event), ${(ms / 1000).toFixed(1)} s executing`);
    console.log('  calls/ev   ms/ev  rows/call  ms max  blocks/call  statement');
    const byTime = [...rows].sort((a, b) => b.total_ms - a.total_ms).slice(0, Math.ceil(top / 2));
    const byCalls = rows.filter((r) => !byTime.includes(r)).slice(0, top - byTime.length);
    for (const r of [...byTime, ...byCalls]) {
      const n = Number(r.calls);
      const text = r.query.replace(/\s+/g, ' ').slice(0, 90);
      const perCall = (v: number) => (v / Math.max(1, n)).toFixed(1);
      console.log(
        `  ${(n / events).toFixed(2).padStart(8)} ${(r.total_ms / events).toFixed(3).padStart(7)} ${perCall(Number(r.rows)).padStart(10)} ${r.max_ms.toFixed(1).padStart(7)} ${perCall(Number(r.blocks)).padStart(12)}  ${text}`,
      );
    }
  } finally {
    await sql.end();
  }
}
