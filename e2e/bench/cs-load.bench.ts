/**
 * `npm run bench:cs`: Client-Server load against a real single-process server on its embedded Postgres,
 * ours or Synapse, or both one after the other with identical parameters (`--target both`).
 *
 * N users in M rooms (each user in one room); S of them send messages in a closed loop while every user
 * long-polls /sync. Reports persisted events/s, send latency, send → other-user /sync delivery latency,
 * the server's and its Postgres's memory and CPU seconds over the load phase, and the load generator's
 * own CPU, so a saturated generator (2 cores shared with the server) shows instead of skewing results.
 *
 *   npm run bench:cs -- --target both --users 100 --rooms 10 --senders 50 --seconds 20
 *
 * The first `--warmup` seconds (3) of load are not measured. `--rate N` paces the senders to N messages per second in all (latency at a given load rather than at
 * saturation). `--pg-stats` also prints the SQL statements the load phase ran (pg_stat_statements), per event.
 * `--syncers off`: nobody long-polls, to measure the send path's cost alone.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import type { SyncersInput, SyncersResult } from './cs-load-syncers.ts';
import { JsonClient } from '../support/json-client.ts';
import { analyzeDatabase, preloadPgStats, printPgStats, resetPgStats } from './pg-stats.ts';
import { machineCpu, processCpuSeconds, rssMb, treeCpuSeconds, treePssMb } from './proc-stats.ts';
import { ALL_TARGETS, startTarget, TARGETS, type Target, type TargetName } from './targets.ts';

const { values } = parseArgs({
  options: {
    target: { type: 'string', default: 'ours' },
    users: { type: 'string', default: '100' },
    rooms: { type: 'string', default: '10' },
    senders: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '20' },
    'log-level': { type: 'string', default: 'INFO' },
    presence: { type: 'string', default: 'on' },
    syncers: { type: 'string', default: 'on' },
    rounds: { type: 'string', default: '1' },
    'keep-logs': { type: 'boolean', default: false },
    'result-file': { type: 'string' },
    'pg-stats': { type: 'boolean', default: false },
    rate: { type: 'string', default: '0' },
    warmup: { type: 'string', default: '3' },
  },
});
const USERS = Number(values.users);
const ROOMS = Math.min(Number(values.rooms), USERS);
const SENDERS = Math.min(Number(values.senders), USERS);
const SECONDS = Number(values.seconds);
/** Messages per second over all senders (0: each sender sends again as soon as it is answered). */
const RATE = Number(values.rate);
/** Seconds of load before anything is recorded (JIT and caches warm up, as after any restart). */
const WARMUP = Number(values.warmup);
const SYNCERS = values.syncers !== 'off';
const SYNC_TIMEOUT_MS = 5000;
/** After the last send, how long deliveries may still arrive before the syncers stop. */
const GRACE_MS = 2000;

export interface Result {
  target: TargetName;
  server: string;
  database: string;
  users: number;
  rooms: number;
  senders: number;
  /** Messages per second the senders were paced to (0: as fast as answered). */
  rate: number;
  seconds: number;
  setupSeconds: number;
  messages: number;
  eventsPerSec: number;
  sendP50: number;
  sendP99: number;
  sendErrors: number;
  deliveryP50: number;
  deliveryP99: number;
  deliveries: number;
  expectedDeliveries: number;
  syncErrors: number;
  syncResponses: number;
  serverRssPeakMb: number;
  serverRssEndMb: number;
  pgPssPeakMb: number;
  pgProcesses: number;
  serverCpuS: number;
  pgCpuS: number;
  loadgenCpuS: number;
  loadgenEluSenders: number;
  loadgenEluSyncers: number;
  machineBusyPct: number;
  /** CPU seconds the machine spent on anything but the server (all its processes), its Postgres and the load generator. */
  otherCpuS: number;
  /** CPU seconds the hypervisor withheld from this virtual machine. */
  stealS: number;
  /** The target's further processes (a fleet's workers and nginx), each on its own. */
  others: { name: string; cpuS: number; rssPeakMb: number }[];
}

const wallNow = (): number => performance.timeOrigin + performance.now();

function pct(values: number[], p: number): number {
  const s = Float64Array.from(values).sort();
  return s.length === 0 ? NaN : (s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number);
}

/** Run `fn(i)` for i in [0, count) with at most `n` at a time. */
async function pool(n: number, count: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, count) }, async () => {
    while (next < count) await fn(next++);
  }));
}

async function serverVersion(name: TargetName, client: JsonClient): Promise<string> {
  try {
    const v = await client.call(undefined, 'GET', '/_matrix/federation/v1/version');
    return `${v.server?.name ?? '?'} ${v.server?.version ?? ''}`.trim();
  } catch {
    if (name === 'synapse') return 'unknown';
    const head = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: import.meta.dirname, encoding: 'utf8' });
    if (head.status !== 0) return 'this repo';
    // The working tree is what runs: say when it differs from the commit.
    const dirty = spawnSync('git', ['diff', '--quiet', 'HEAD', '--'], { cwd: import.meta.dirname }).status === 1;
    return `this repo @ ${head.stdout.trim()}${dirty ? '+changes' : ''}`;
  }
}

async function runTarget(name: TargetName): Promise<Result> {
  console.log(`[${name}] starting the server…`);
  const target: Target = await startTarget(name, { logLevel: values['log-level'], presence: values.presence !== 'off' });
  const client = new JsonClient(target.baseUrl, SENDERS + 8);
  let worker: Worker | undefined;
  try {
    const server = await serverVersion(name, client);
    console.log(`[${name}] ${server} on ${target.database}; setting up ${USERS} users in ${ROOMS} rooms…`);
    const setupStart = performance.now();
    const tokens: string[] = new Array(USERS);
    const userIds: string[] = new Array(USERS);
    // Both servers accept /register with an m.login.dummy UIA stage once registration is open.
    await pool(4, USERS, async (i) => {
      const first = await client.call(undefined, 'POST', '/_matrix/client/v3/register', { username: `load${i}`, password: 'bench-password' });
      const reg = await client.call(undefined, 'POST', '/_matrix/client/v3/register', {
        username: `load${i}`,
        password: 'bench-password',
        auth: { type: 'm.login.dummy', session: first.session },
      });
      tokens[i] = reg.access_token;
      userIds[i] = reg.user_id;
    });
    // User r creates room r, users join round-robin: every user is in exactly one room.
    const rooms: string[] = [];
    for (let r = 0; r < ROOMS; r++) rooms.push((await client.call(tokens[r], 'POST', '/_matrix/client/v3/createRoom', { preset: 'public_chat' })).room_id);
    const roomIndex = (u: number) => u % ROOMS;
    await pool(4, USERS - ROOMS, async (i) => {
      const u = i + ROOMS;
      await client.call(tokens[u], 'POST', `/_matrix/client/v3/join/${encodeURIComponent(rooms[roomIndex(u)] as string)}`, {});
    });
    const members = rooms.map((_, r) => Array.from({ length: USERS }, (_, u) => u).filter((u) => roomIndex(u) === r).length);

    const syncWorker = new Worker(new URL('./cs-load-syncers.ts', import.meta.url), {
      workerData: { baseUrl: target.baseUrl, tokens: SYNCERS ? tokens : [], userIds, timeoutMs: SYNC_TIMEOUT_MS } satisfies SyncersInput,
    });
    worker = syncWorker;
    const workerExit = new Promise<never>((_, reject) => {
      syncWorker.once('error', reject);
      syncWorker.once('exit', (code) => reject(new Error(`syncer worker exited (${code})`)));
    });
    const fromWorker = (type: string) =>
      Promise.race([workerExit, new Promise<any>((resolve) => syncWorker.on('message', (m: { type: string }) => m.type === type && resolve(m)))]);
    await fromWorker('ready');
    const setupSeconds = (performance.now() - setupStart) / 1000;
    console.log(`[${name}] set up in ${setupSeconds.toFixed(1)} s; ${SENDERS} senders for ${SECONDS} s…`);

    const sendLatency: number[] = [];
    const sentPerRoom = new Array<number>(ROOMS).fill(0);
    let sent = 0;
    let sendErrors = 0;
    let firstSendError: string | undefined;
    let rssPeak = 0;
    let pssPeak = 0;
    let pgProcesses = 0;
    const otherRssPeak = new Map<string, number>();
    let samples = 0;
    const sample = () => {
      rssPeak = Math.max(rssPeak, rssMb(target.serverPid));
      for (const [other, pid] of target.otherPids) otherRssPeak.set(other, Math.max(otherRssPeak.get(other) ?? 0, rssMb(pid)));
      // PSS walks every mapping of every Postgres process (tens of ms under load, CPU taken from the
      // server being measured): every fifth sample, and once at the end.
      if (target.postgresPid && samples++ % 5 === 0) {
        const pss = treePssMb(target.postgresPid);
        pssPeak = Math.max(pssPeak, pss.mb);
        pgProcesses = Math.max(pgProcesses, pss.processes);
      }
    };
    const cpuAt = () => ({
      server: processCpuSeconds(target.serverPid),
      others: target.otherPids.map(([, pid]) => processCpuSeconds(pid)),
      pg: target.postgresPid ? treeCpuSeconds(target.postgresPid) : NaN,
      loadgen: process.cpuUsage(),
      machine: machineCpu(),
      elu: performance.eventLoopUtilization(),
    });

    await analyzeDatabase(target);
    // The load runs WARMUP + SECONDS; only what is sent after the warm-up is measured (CPU, SQL, latencies).
    const loadStart = performance.now();
    const started = loadStart + WARMUP * 1000;
    let before: ReturnType<typeof cpuAt> | undefined;
    const beginMeasuring = async () => {
      if (values['pg-stats']) await resetPgStats(target);
      before = cpuAt();
      syncWorker.postMessage({ type: 'start', from: performance.timeOrigin + started });
    };
    const warm = WARMUP > 0 ? new Promise((r) => setTimeout(r, WARMUP * 1000)).then(beginMeasuring) : beginMeasuring();
    const sampler = setInterval(sample, 1000);
    // --senders 0: the idle cost of the long-polling clients alone.
    if (SENDERS === 0) await new Promise((r) => setTimeout(r, (WARMUP + SECONDS) * 1000));
    await Promise.all(
      Array.from({ length: SENDERS }, async (_, s) => {
        const r = roomIndex(s);
        const sendPath = `/_matrix/client/v3/rooms/${encodeURIComponent(rooms[r] as string)}/send/m.room.message/`;
        // With --rate, sender s sends at s·gap, s·gap + interval, …: the load is spread evenly in time.
        const interval = RATE > 0 ? (SENDERS / RATE) * 1000 : 0;
        for (let n = 0; performance.now() - started < SECONDS * 1000; n++) {
          if (interval > 0) {
            const due = loadStart + (s / SENDERS) * interval + n * interval;
            const wait = due - performance.now();
            if (wait > 0) await new Promise((r) => setTimeout(r, wait));
            if (performance.now() - started >= SECONDS * 1000) break;
          }
          const t0 = performance.now();
          const body = `s${s}-${n} ${wallNow()}`;
          try {
            await client.call(tokens[s], 'PUT', sendPath + `s${s}-${n}`, { msgtype: 'm.text', body });
          } catch (e) {
            sendErrors++;
            firstSendError ??= (e as Error).message;
            continue;
          }
          if (t0 < started) continue;
          sendLatency.push(performance.now() - t0);
          sentPerRoom[r]!++;
          sent++;
        }
      }),
    );
    await warm;
    const elapsed = (performance.now() - started) / 1000;
    const after = cpuAt();
    const from = before as ReturnType<typeof cpuAt>;
    clearInterval(sampler);
    samples = 0;
    sample();
    await new Promise((r) => setTimeout(r, GRACE_MS));
    syncWorker.postMessage({ type: 'stop' });
    const syncers = (await fromWorker('result')) as SyncersResult;
    if (values['pg-stats']) await printPgStats(target, sent);
    if (firstSendError) console.log(`[${name}] ${sendErrors} send errors, first: ${firstSendError}`);
    if (syncers.firstError) console.log(`[${name}] ${syncers.errors} sync errors, first: ${syncers.firstError}`);

    const loadgenCpu = { user: after.loadgen.user - from.loadgen.user, system: after.loadgen.system - from.loadgen.system };
    const machine = {
      busy: after.machine.busy - from.machine.busy,
      steal: after.machine.steal - from.machine.steal,
      total: after.machine.total - from.machine.total,
    };
    return {
      target: name,
      server,
      database: target.database,
      users: USERS,
      rooms: ROOMS,
      senders: SENDERS,
      rate: RATE,
      seconds: elapsed,
      setupSeconds,
      messages: sent,
      eventsPerSec: sent / elapsed,
      sendP50: pct(sendLatency, 50),
      sendP99: pct(sendLatency, 99),
      sendErrors,
      deliveryP50: pct(syncers.delivery, 50),
      deliveryP99: pct(syncers.delivery, 99),
      deliveries: syncers.delivery.length,
      expectedDeliveries: !SYNCERS ? 0 : sentPerRoom.reduce((sum, n, r) => sum + n * ((members[r] as number) - 1), 0),
      syncErrors: syncers.errors,
      syncResponses: syncers.syncs,
      serverRssPeakMb: rssPeak,
      serverRssEndMb: rssMb(target.serverPid),
      pgPssPeakMb: pssPeak,
      pgProcesses,
      serverCpuS: after.server - from.server,
      pgCpuS: after.pg - from.pg,
      loadgenCpuS: (loadgenCpu.user + loadgenCpu.system) / 1e6,
      loadgenEluSenders: performance.eventLoopUtilization(after.elu, from.elu).utilization,
      loadgenEluSyncers: syncers.elu,
      machineBusyPct: (100 * machine.busy) / machine.total,
      stealS: machine.steal,
      otherCpuS: machine.busy - (after.server - from.server) - (after.pg - from.pg) - (loadgenCpu.user + loadgenCpu.system) / 1e6 -
        after.others.reduce((sum, cpu, i) => sum + cpu - (from.others[i] as number), 0),
      others: target.otherPids.map(([other], i) => ({
        name: other,
        cpuS: (after.others[i] as number) - (from.others[i] as number),
        rssPeakMb: otherRssPeak.get(other) ?? NaN,
      })),
    };
  } finally {
    await worker?.terminate();
    client.close();
    if (values['keep-logs']) {
      const kept = path.join(os.tmpdir(), `hs-bench-cs-${name}-${process.pid}.log`);
      fs.copyFileSync(target.logPath, kept);
      console.log(`[${name}] server log kept at ${kept}`);
    }
    await target.stop();
  }
}

const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '-');
const f0 = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : '-');

function report(r: Result): void {
  console.log(`\n== ${r.target}: ${r.server} (${r.database})`);
  console.log(`users ${r.users}, rooms ${r.rooms}, senders ${r.senders}${r.rate > 0 ? ` paced to ${r.rate} msg/s` : ''}, ${r.seconds.toFixed(1)} s (set-up ${r.setupSeconds.toFixed(1)} s)`);
  console.log(`persisted events/s: ${f0(r.eventsPerSec)} (${r.messages} messages, ${r.sendErrors} errors)`);
  console.log(`send latency ms: p50 ${f1(r.sendP50)}, p99 ${f1(r.sendP99)}`);
  if (r.expectedDeliveries === 0) console.log('delivery: not measured (--syncers off)');
  else {
    console.log(
      `delivery to other users' /sync ms: p50 ${f1(r.deliveryP50)}, p99 ${f1(r.deliveryP99)} ` +
        `(${r.deliveries} of ${r.expectedDeliveries} expected, ${r.syncResponses} sync responses, ${r.syncErrors} errors)`,
    );
  }
  console.log(`server RSS: peak ${f0(r.serverRssPeakMb)} MB, end ${f0(r.serverRssEndMb)} MB; Postgres PSS peak ${f0(r.pgPssPeakMb)} MB over ${r.pgProcesses} processes`);
  for (const o of r.others) console.log(`${o.name}: RSS peak ${f0(o.rssPeakMb)} MB, CPU ${f1(o.cpuS)} s during load`);
  console.log(`CPU s during load: server ${f1(r.serverCpuS)}, Postgres ${f1(r.pgCpuS)}, load generator ${f1(r.loadgenCpuS)}; machine ${f0(r.machineBusyPct)}% busy (${os.availableParallelism()} cores), other processes ${f1(r.otherCpuS)}, steal ${f1(r.stealS)}`);
  console.log(`load generator event-loop utilisation: senders ${(100 * r.loadgenEluSenders).toFixed(0)}%, syncers ${(100 * r.loadgenEluSyncers).toFixed(0)}%`);
  if (Math.max(r.loadgenEluSenders, r.loadgenEluSyncers) > 0.9) console.log('!! a load generator thread was saturated: latencies include its queueing');
  if (r.otherCpuS > 0.1 * r.seconds * os.availableParallelism()) console.log('!! other processes used over 10% of the machine during the run: figures are not clean');
}

function compare(results: Result[], labels: string[]): void {
  const rows: [string, (r: Result) => string][] = [
    ['server', (r) => r.server],
    ['database', (r) => r.database],
    ['persisted events/s', (r) => f0(r.eventsPerSec)],
    ['send p50 ms', (r) => f1(r.sendP50)],
    ['send p99 ms', (r) => f1(r.sendP99)],
    ['delivery p50 ms', (r) => f1(r.deliveryP50)],
    ['delivery p99 ms', (r) => f1(r.deliveryP99)],
    ['deliveries / expected', (r) => `${r.deliveries}/${r.expectedDeliveries}`],
    ['errors (send/sync)', (r) => `${r.sendErrors}/${r.syncErrors}`],
    ['server RSS peak MB', (r) => f0(r.serverRssPeakMb)],
    ['Postgres PSS peak MB', (r) => f0(r.pgPssPeakMb)],
    ['server CPU s', (r) => f1(r.serverCpuS)],
    ['Postgres CPU s', (r) => f1(r.pgCpuS)],
    ['server+PG CPU ms / event', (r) => f1((1000 * (r.serverCpuS + r.pgCpuS)) / r.messages)],
    ['load generator CPU s', (r) => f1(r.loadgenCpuS)],
    ['machine busy %', (r) => f0(r.machineBusyPct)],
    ['other processes CPU s', (r) => f1(r.otherCpuS)],
    ['steal s', (r) => f1(r.stealS)],
  ];
  const header = ['', ...labels];
  const table = [header, ...rows.map(([label, get]) => [label, ...results.map(get)])];
  const widths = header.map((_, c) => Math.max(...table.map((row) => (row[c] as string).length)));
  const first = results[0] as Result;
  console.log(
    `\n== side by side: users ${first.users}, rooms ${first.rooms}, senders ${first.senders}${first.rate > 0 ? ` paced to ${first.rate} msg/s` : ''}, ${SECONDS} s after ${WARMUP} s of warm-up, ` +
      `presence ${values.presence}, logs ${values['log-level']}, ${new Date().toISOString().slice(0, 10)}`,
  );
  for (const row of table) console.log(row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] as number) : cell.padStart(widths[c] as number))).join('  '));
}

if (values.target === 'both') {
  // Each run in a fresh process, so none inherits another's JIT warm-up or heap. With several rounds the
  // order alternates, so neither server always gets the quieter or the warmer slot of the machine.
  const results: Result[] = [];
  const labels: string[] = [];
  const rounds = Number(values.rounds);
  for (let round = 1; round <= rounds; round++) {
    for (const name of round % 2 === 1 ? TARGETS : [...TARGETS].reverse()) {
      const file = path.join(os.tmpdir(), `hs-bench-cs-${process.pid}-${name}-${round}.json`);
      const args = ['--users', String(USERS), '--rooms', String(ROOMS), '--senders', String(SENDERS), '--seconds', String(SECONDS), '--rate', String(RATE), '--warmup', String(WARMUP), '--log-level', values['log-level'], '--presence', values.presence, '--syncers', values.syncers];
      if (values['keep-logs']) args.push('--keep-logs');
      if (values['pg-stats']) args.push('--pg-stats');
      const run = spawnSync(process.execPath, [...process.execArgv, import.meta.filename, '--target', name, '--result-file', file, ...args], { stdio: 'inherit' });
      if (run.status !== 0) throw new Error(`the ${name} run failed (exit ${run.status})`);
      results.push(JSON.parse(fs.readFileSync(file, 'utf8')) as Result);
      labels.push(rounds > 1 ? `${name}#${round}` : name);
      fs.rmSync(file, { force: true });
    }
  }
  compare(results, labels);
} else {
  if (!ALL_TARGETS.includes(values.target as TargetName)) throw new Error(`--target must be ${ALL_TARGETS.join(', ')} or both, not ${values.target}`);
  if (values['pg-stats']) preloadPgStats();
  const result = await runTarget(values.target as TargetName);
  report(result);
  if (values['result-file']) fs.writeFileSync(values['result-file'], JSON.stringify(result));
}
