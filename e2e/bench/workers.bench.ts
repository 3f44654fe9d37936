/**
 * `npm run bench:workers`: the `bench:cs` load, through nginx, against our server in three fleet topologies
 * (single process; main + 2 generic workers; main + 2 generic workers + 2 event persisters). Each topology
 * runs in a fresh `cs-load.bench.ts` process with the same parameters; this prints them side by side with
 * every process's CPU seconds and RSS over the load phase, so the cost per process kind can be read off.
 *
 *   npm run bench:workers -- --users 100 --rooms 10 --senders 50 --seconds 15
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Result } from './cs-load.bench.ts';
import { FLEET_TOPOLOGIES, type FleetTargetName } from './targets.ts';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '100' },
    rooms: { type: 'string', default: '10' },
    senders: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '15' },
    'log-level': { type: 'string', default: 'INFO' },
    presence: { type: 'string', default: 'on' },
  },
});

const topologies = Object.keys(FLEET_TOPOLOGIES) as FleetTargetName[];
const loadArgs = Object.entries(values).flatMap(([k, v]) => [`--${k}`, String(v)]);
const results: Result[] = [];
for (const name of topologies) {
  const file = path.join(os.tmpdir(), `hs-bench-workers-${process.pid}-${name}.json`);
  const script = path.join(import.meta.dirname, 'cs-load.bench.ts');
  const run = spawnSync(process.execPath, [...process.execArgv, script, '--target', name, '--result-file', file, ...loadArgs], { stdio: 'inherit' });
  if (run.status !== 0) throw new Error(`the ${name} run failed (exit ${run.status})`);
  results.push(JSON.parse(fs.readFileSync(file, 'utf8')) as Result);
  fs.rmSync(file, { force: true });
}

const fixed = (digits: number) => (n: number | undefined) => (n !== undefined && Number.isFinite(n) ? n.toFixed(digits) : '-');
const [int, one, two] = [fixed(0), fixed(1), fixed(2)];
const other = (r: Result, name: string) => r.others.find((o) => o.name === name);
/** Every worker name any topology has (nginx last), so each gets its own rows. */
const names = [...new Set(results.flatMap((r) => r.others.map((o) => o.name)))].sort((a, b) => Number(a === 'nginx') - Number(b === 'nginx'));

const rows: [string, (r: Result) => string][] = [
  ['persisted events/s', (r) => int(r.eventsPerSec)],
  ['send p50 / p99 ms', (r) => `${one(r.sendP50)} / ${one(r.sendP99)}`],
  ['delivery p50 / p99 ms', (r) => `${one(r.deliveryP50)} / ${one(r.deliveryP99)}`],
  ['deliveries / expected', (r) => `${r.deliveries}/${r.expectedDeliveries}`],
  ['errors send / sync', (r) => `${r.sendErrors}/${r.syncErrors}`],
  ['main CPU s / RSS MB', (r) => `${one(r.serverCpuS)} / ${int(r.serverRssPeakMb)}`],
  ...names.map((n): [string, (r: Result) => string] => [`${n} CPU s / RSS MB`, (r) => (other(r, n) ? `${one(other(r, n)?.cpuS)} / ${int(other(r, n)?.rssPeakMb)}` : '')]),
  ['Postgres CPU s / PSS MB', (r) => `${one(r.pgCpuS)} / ${int(r.pgPssPeakMb)}`],
  ['homeserver CPU ms / event', (r) => two((1000 * (r.serverCpuS + r.others.filter((o) => o.name !== 'nginx').reduce((s, o) => s + o.cpuS, 0))) / r.messages)],
  ['Postgres CPU ms / event', (r) => two((1000 * r.pgCpuS) / r.messages)],
  ['nginx CPU ms / event', (r) => two((1000 * (other(r, 'nginx')?.cpuS ?? NaN)) / r.messages)],
  ['load generator CPU s', (r) => one(r.loadgenCpuS)],
  ['machine busy %', (r) => int(r.machineBusyPct)],
  ['other processes CPU s', (r) => one(r.otherCpuS)],
  ['steal s', (r) => one(r.stealS)],
];
const cells = [['', ...topologies], ...rows.map(([label, get]) => [label, ...results.map(get)])];
const width = (c: number) => Math.max(...cells.map((row) => (row[c] ?? '').length));
const first = results[0] as Result;
console.log(
  `\n== bench:workers through nginx: users ${first.users}, rooms ${first.rooms}, senders ${first.senders}, ${values.seconds} s each, ` +
    `${os.availableParallelism()} cores, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}, ${new Date().toISOString().slice(0, 10)}`,
);
for (const row of cells) console.log(row.map((cell, c) => (c === 0 ? cell.padEnd(width(c)) : cell.padStart(width(c)))).join('  '));
