/**
 * Faults in the scaled topology (main + 2 generic workers + 2 event persisters + a stream writer, one
 * Redis, behind nginx configured by `homeserver routes`), under a steady chat load driven with plain
 * HTTP through nginx. Senders send numbered messages, each with its own transaction ID, and retry a
 * failed send with the same ID; syncers long-poll /sync and retry with the same `since`. One fleet
 * lives through four faults in turn — a generic worker and an event persister killed with SIGKILL,
 * Redis restarted, main (and with it the embedded Postgres) restarted — and after each the invariant
 * is checked: every acknowledged message reached every member exactly once, in the order /messages
 * gives, and nothing (acknowledged or not) is in the room twice.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pickInstance } from '@hs/replication';
import { Fleet } from './support/fleet.ts';

const PERSISTERS = ['persister1', 'persister2'];
/** Pause between a sender's messages: ~3 senders per room stay well under the sync timeline cap (100) even when a sync stalls for seconds. */
const SEND_PAUSE_MS = 300;
/** How long a sender keeps retrying one message before giving up on it (it stays unacknowledged). */
const SEND_DEADLINE_MS = 45_000;

interface Reply {
  readonly status: number;
  readonly contentType: string;
  readonly text: string;
  readonly json: any;
}

interface Failure {
  readonly phase: string;
  readonly what: string;
  /** 0 when the request did not get an HTTP answer at all. */
  readonly status: number;
  readonly errcode: string | undefined;
  readonly json: boolean;
  readonly detail: string;
  readonly at: number;
}

interface Member {
  readonly name: string;
  readonly userId: string;
  readonly token: string;
}

interface Room {
  readonly label: string;
  readonly id: string;
  readonly persister: string;
  readonly members: Member[];
}

let fleet: Fleet;
let phase = 'setup';
const failures: Failure[] = [];

/** A timeline of faults and requests, written out when HS_E2E_DUMP names a directory (with every process's output). */
const timeline: string[] = [];
const started = Date.now();
const note = (line: string) => timeline.push(`${String(Date.now() - started).padStart(7)} ${line}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function request(method: string, route: string, token?: string, body?: unknown, signal?: AbortSignal): Promise<Reply> {
  const res = await fetch(fleet.baseUrl + route, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(60_000)]) : AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', text, json };
}

function recordFailure(what: string, reply: Reply | undefined, error?: unknown): void {
  const isJson = reply !== undefined && reply.contentType.includes('application/json') && reply.json !== undefined && typeof reply.json === 'object';
  failures.push({
    phase,
    what,
    status: reply?.status ?? 0,
    errcode: isJson ? reply.json.errcode : undefined,
    json: isJson,
    detail: reply ? reply.text.slice(0, 200).replace(/\s+/g, ' ') : String(error),
    at: Date.now(),
  });
  if (!what.startsWith('send')) note(`${what} failed: ${reply ? `${reply.status} ${reply.text.slice(0, 120)}` : String(error)}`);
}

/** Setup calls: retried only for answers a client retries anyway (the fleet is healthy then). */
async function call(method: string, route: string, token?: string, body?: unknown): Promise<any> {
  const res = await request(method, route, token, body);
  if (res.status >= 400 && !(res.status === 401 && res.json?.flows)) throw new Error(`${method} ${route}: ${res.status} ${res.text}`);
  return res.json;
}

async function register(name: string): Promise<Member> {
  const first = await call('POST', '/_matrix/client/v3/register', undefined, { username: name, password: `${name}-pw` });
  const reg = await call('POST', '/_matrix/client/v3/register', undefined, { username: name, password: `${name}-pw`, auth: { type: 'm.login.dummy', session: first.session } });
  return { name, userId: reg.user_id, token: reg.access_token };
}

const enc = encodeURIComponent;

/** One user sending numbered messages into one room, one at a time, each retried under its own transaction ID until acknowledged. */
class Sender {
  readonly member: Member;
  readonly room: Room;
  /** Acknowledged sends: body → event ID and when. */
  readonly acked = new Map<string, { eventId: string; at: number }>();
  /** Sends that were never acknowledged (given up on). */
  readonly abandoned: string[] = [];
  /** Every body tried. */
  readonly tried = new Set<string>();
  busy: Promise<void> = Promise.resolve();
  private next = 0;

  constructor(member: Member, room: Room) {
    this.member = member;
    this.room = room;
  }

  async sendOne(): Promise<void> {
    const n = this.next++;
    const body = `m|${this.member.name}|${this.room.label}|${n}`;
    const txn = `${this.room.label}-${n}`;
    this.tried.add(body);
    const route = `/_matrix/client/v3/rooms/${enc(this.room.id)}/send/m.room.message/${txn}`;
    const deadline = Date.now() + SEND_DEADLINE_MS;
    let delay = 100;
    for (;;) {
      let reply: Reply | undefined;
      const t0 = Date.now();
      try {
        reply = await request('PUT', route, this.member.token, { msgtype: 'm.text', body });
        if (reply.status !== 200 || Date.now() - t0 > 1_000) note(`send ${body} ${reply.status} in ${Date.now() - t0} ms ${reply.text.slice(0, 120)}`);
      } catch (e) {
        recordFailure(`send ${this.room.label} (${this.room.persister})`, undefined, e);
      }
      if (reply && reply.status === 200 && typeof reply.json?.event_id === 'string') {
        this.acked.set(body, { eventId: reply.json.event_id, at: Date.now() });
        return;
      }
      if (reply) recordFailure(`send ${this.room.label} (${this.room.persister})`, reply);
      if (Date.now() > deadline) {
        this.abandoned.push(body);
        return;
      }
      const wait = reply?.status === 429 && typeof reply.json?.retry_after_ms === 'number' ? reply.json.retry_after_ms : delay;
      await sleep(wait);
      delay = Math.min(delay * 2, 1_000);
    }
  }

  ackedBetween(from: number, to: number): number {
    let n = 0;
    for (const { at } of this.acked.values()) if (at >= from && at <= to) n++;
    return n;
  }
}

/** One user's /sync long-poll: every message body received, per room, in arrival order. */
class Syncer {
  readonly member: Member;
  readonly received = new Map<string, string[]>();
  readonly limited: string[] = [];
  private since: string | undefined;
  private running = true;
  private readonly abort = new AbortController();
  private loop: Promise<void> = Promise.resolve();
  private static readonly FILTER = JSON.stringify({
    room: { timeline: { limit: 100, types: ['m.room.message'] }, state: { types: [] }, ephemeral: { types: [] }, account_data: { types: [] } },
    presence: { types: [] },
    account_data: { types: [] },
  });

  constructor(member: Member) {
    this.member = member;
  }

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    await this.loop;
  }

  bodies(roomId: string): string[] {
    return this.received.get(roomId) ?? [];
  }

  private async run(): Promise<void> {
    while (this.running) {
      const query = `filter=${enc(Syncer.FILTER)}&timeout=${this.since === undefined ? 0 : 5_000}${this.since === undefined ? '' : `&since=${enc(this.since)}`}`;
      let reply: Reply | undefined;
      try {
        reply = await request('GET', `/_matrix/client/v3/sync?${query}`, this.member.token, undefined, this.abort.signal);
      } catch (e) {
        if (!this.running) return;
        recordFailure(`sync ${this.member.name}`, undefined, e);
      }
      if (!reply || reply.status !== 200 || typeof reply.json?.next_batch !== 'string') {
        if (reply) recordFailure(`sync ${this.member.name}`, reply);
        await sleep(200);
        continue;
      }
      for (const [roomId, room] of Object.entries<any>(reply.json.rooms?.join ?? {})) {
        if (room.timeline?.limited && this.since !== undefined) this.limited.push(`${roomId} after ${this.since}`);
        for (const ev of room.timeline?.events ?? []) {
          const body = ev?.content?.body;
          if (ev?.type !== 'm.room.message' || typeof body !== 'string' || !body.startsWith('m|')) continue;
          let list = this.received.get(roomId);
          if (!list) this.received.set(roomId, (list = []));
          list.push(body);
        }
      }
      this.since = reply.json.next_batch;
    }
  }
}

/** All senders; `pause` lets each finish the message it is on and holds them until `resume`. */
class Workload {
  readonly senders: Sender[];
  private gate: Promise<void> | undefined;
  private openGate: (() => void) | undefined;
  private stopped = false;
  private loops: Promise<void>[] = [];

  constructor(senders: Sender[]) {
    this.senders = senders;
  }

  start(): void {
    this.loops = this.senders.map((s) => this.run(s));
  }

  private async run(s: Sender): Promise<void> {
    for (;;) {
      while (this.gate) await this.gate;
      if (this.stopped) return;
      // Assigned in the same tick as the gate check, so `pause` always waits for this message.
      s.busy = s.sendOne();
      await s.busy;
      await sleep(SEND_PAUSE_MS);
    }
  }

  async pause(): Promise<void> {
    if (!this.gate) this.gate = new Promise((r) => (this.openGate = r));
    await Promise.all(this.senders.map((s) => s.busy));
  }

  resume(): void {
    const open = this.openGate;
    this.gate = undefined;
    this.openGate = undefined;
    open?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.resume();
    await Promise.all(this.loops);
  }

  ackedIn(rooms: Room[], from: number, to: number): Map<string, number> {
    const out = new Map<string, number>(rooms.map((r) => [r.label, 0]));
    for (const s of this.senders) if (rooms.includes(s.room)) out.set(s.room.label, (out.get(s.room.label) ?? 0) + s.ackedBetween(from, to));
    return out;
  }
}

let members: Member[];
let rooms: Room[];
let syncers: Syncer[];
let workload: Workload;

/** A GET retried the way a client retries it (server errors, for up to 15 s); the failures are recorded. */
async function read(route: string, token: string): Promise<any> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const res = await request('GET', route, token);
    if (res.status === 200) return res.json;
    recordFailure(`read ${route.split('?')[0]}`, res);
    if (res.status < 500 || Date.now() > deadline) throw new Error(`GET ${route}: ${res.status} ${res.text}`);
    await sleep(250);
  }
}

/** The room's messages as /messages gives them, oldest first (paginating back from the end). */
async function history(room: Room): Promise<Array<{ body: string; eventId: string }>> {
  const out: Array<{ body: string; eventId: string }> = [];
  let from: string | undefined;
  for (let page = 0; page < 200; page++) {
    const q = `dir=b&limit=500${from ? `&from=${enc(from)}` : ''}`;
    const res = await read(`/_matrix/client/v3/rooms/${enc(room.id)}/messages?${q}`, room.members[0]!.token);
    for (const ev of res.chunk ?? []) {
      if (ev.type === 'm.room.message' && typeof ev.content?.body === 'string' && ev.content.body.startsWith('m|')) out.push({ body: ev.content.body, eventId: ev.event_id });
    }
    if (!res.end || (res.chunk ?? []).length === 0) break;
    from = res.end;
  }
  return out.reverse();
}

function duplicates(list: readonly string[]): string[] {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const b of list) (seen.has(b) ? dup : seen).add(b);
  return [...dup];
}

/**
 * The invariant, over everything sent so far: holds the senders, waits for the syncers to drain, then
 * compares each member's /sync with the room's /messages and with what the senders were told.
 */
async function checkpoint(label: string): Promise<void> {
  phase = `${label} (checkpoint)`;
  await workload.pause();
  try {
    assertNoneCrashed(label);
    const histories = new Map<string, Array<{ body: string; eventId: string }>>();
    for (const room of rooms) histories.set(room.id, await history(room));

    for (const room of rooms) {
      const order = histories.get(room.id)!.map((e) => e.body);
      assert.deepEqual(duplicates(order), [], `${label}: /messages in ${room.label} holds a message twice`);
      const byBody = new Map(histories.get(room.id)!.map((e) => [e.body, e.eventId]));
      for (const s of workload.senders.filter((x) => x.room === room)) {
        for (const [body, { eventId }] of s.acked) {
          assert.ok(byBody.has(body), `${label}: acknowledged ${body} is missing from /messages in ${room.label}`);
          assert.equal(byBody.get(body), eventId, `${label}: ${body} was acknowledged as ${eventId} but the room holds ${byBody.get(body)}`);
        }
        for (const body of byBody.keys()) {
          if (body.startsWith(`m|${s.member.name}|${room.label}|`)) assert.ok(s.tried.has(body), `${label}: ${body} was never sent`);
        }
      }
    }

    const abandoned = workload.senders.flatMap((x) => x.abandoned);
    assert.deepEqual(abandoned, [], `${label}: sends still failing after ${SEND_DEADLINE_MS / 1000} s`);

    // A limited timeline leaves events out on purpose (a client would paginate); the load is kept low enough never to need it.
    for (const sy of syncers) assert.deepEqual(sy.limited, [], `${label}: ${sy.member.name}'s sync skipped events (limited timeline)`);

    // Every member's sync catches up with /messages (the senders are held, so the target is fixed).
    const deadline = Date.now() + 30_000;
    const behind = () =>
      syncers.flatMap((sy) =>
        rooms
          .filter((r) => r.members.some((m) => m.name === sy.member.name))
          .filter((r) => sy.bodies(r.id).length < histories.get(r.id)!.length)
          .map((r) => {
            const got = new Set(sy.bodies(r.id));
            const missing = histories.get(r.id)!.filter((e) => !got.has(e.body)).slice(0, 3).map((e) => `${e.body} (${e.eventId})`);
            return `${sy.member.name} in ${r.label}: ${got.size}/${histories.get(r.id)!.length}, missing ${missing.join(', ')}`;
          }),
      );
    while (behind().length > 0 && Date.now() < deadline) await sleep(100);
    assert.deepEqual(behind(), [], `${label}: syncs did not catch up`);

    for (const sy of syncers) {
      for (const room of rooms) {
        const isMember = room.members.some((m) => m.name === sy.member.name);
        const got = sy.bodies(room.id);
        if (!isMember) {
          assert.equal(got.length, 0, `${label}: ${sy.member.name} is not in ${room.label} but received its messages`);
          continue;
        }
        assert.deepEqual(duplicates(got), [], `${label}: ${sy.member.name} received a message twice in ${room.label}`);
        assert.deepEqual(got, histories.get(room.id)!.map((e) => e.body), `${label}: ${sy.member.name}'s sync of ${room.label} differs from /messages`);
      }
    }

    // A client retrying through the proxy only ever sees Matrix errors, never the proxy's own pages.
    const bad = failures.filter((f) => f.status !== 0 && !(f.json && typeof f.errcode === 'string'));
    assert.deepEqual(bad, [], `${label}: error answers that are not Matrix error JSON`);
    const unreachable = failures.filter((f) => f.status === 0);
    assert.deepEqual(unreachable, [], `${label}: requests nginx did not answer at all`);
  } finally {
    phase = label;
    workload.resume();
  }
}

/** Only the faults the test injects stop processes: nothing may exit on its own. */
function assertNoneCrashed(label: string): void {
  for (const [name, proc] of fleet.processes) {
    assert.ok(proc.running, `${label}: ${name} exited by itself:\n${proc.output.slice(-2_000)}`);
  }
}

function failuresIn(what: RegExp, from: number, to = Infinity): Failure[] {
  return failures.filter((f) => what.test(f.what) && f.at >= from && f.at <= to);
}

function summary(list: readonly Failure[]): string {
  const counts = new Map<string, number>();
  for (const f of list) {
    const key = `${f.what} ${f.status} ${f.errcode ?? (f.json ? '?' : 'not-json')}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return JSON.stringify([...counts]);
}

test.before(async () => {
  fleet = await Fleet.start({ genericWorkers: 2, eventPersisters: 2, streamWriter: true });
  members = [await register('alice'), await register('bob'), await register('carol')];
  const [alice, bob, carol] = members as [Member, Member, Member];
  // Two rooms on each persister (the owner follows from the room ID, so create until both have two).
  const owned = new Map<string, string[]>(PERSISTERS.map((p) => [p, []]));
  for (let i = 0; i < 20 && [...owned.values()].some((l) => l.length < 2); i++) {
    const { room_id } = await call('POST', '/_matrix/client/v3/createRoom', alice.token, { preset: 'public_chat', name: `faults ${i}` });
    owned.get(pickInstance(room_id, PERSISTERS))!.push(room_id);
  }
  const [a1, b1] = owned.get('persister1')!;
  const [a2, b2] = owned.get('persister2')!;
  assert.ok(a1 && b1 && a2 && b2, 'two rooms on each persister');
  rooms = [
    { label: 'p1a', id: a1, persister: 'persister1', members: [alice, bob, carol] },
    { label: 'p1b', id: b1, persister: 'persister1', members: [alice, bob] },
    { label: 'p2a', id: a2, persister: 'persister2', members: [alice, bob, carol] },
    { label: 'p2b', id: b2, persister: 'persister2', members: [alice, carol] },
  ];
  for (const room of rooms) {
    for (const m of room.members) if (m !== alice) await call('POST', `/_matrix/client/v3/rooms/${enc(room.id)}/join`, m.token, {});
  }
  syncers = members.map((m) => new Syncer(m));
  for (const s of syncers) s.start();
  workload = new Workload(rooms.flatMap((r) => r.members.map((m) => new Sender(m, r))));
  workload.start();
  phase = 'warm-up';
  await sleep(3_000);
  await checkpoint('warm-up');
});

test.after(async () => {
  const dump = process.env.HS_E2E_DUMP;
  if (dump && fleet) {
    fs.mkdirSync(dump, { recursive: true });
    fs.writeFileSync(path.join(dump, 'timeline.txt'), timeline.join('\n') + '\n');
    fs.writeFileSync(path.join(dump, 'nginx-error.log'), fleet.nginxErrors());
    for (const [name, proc] of fleet.processes) fs.writeFileSync(path.join(dump, `${name}.log`), proc.output);
  }
  await workload?.stop();
  for (const s of syncers ?? []) await s.stop();
  await fleet?.stop();
});

test('the generated nginx config fails idempotent requests over to another worker', () => {
  const conf = fleet.nginxConfig();
  const next = /proxy_next_upstream ([^;]+);/.exec(conf)?.[1]?.split(/\s+/) ?? [];
  // `error` covers refused and reset connections (a dead worker), `timeout` a hung one; nginx never
  // repeats POSTs unless told to (non_idempotent), and must not: a retried POST could act twice.
  assert.ok(next.includes('error') && next.includes('timeout'), `proxy_next_upstream ${next.join(' ')}`);
  assert.ok(!next.includes('non_idempotent'), 'POSTs are never repeated by the proxy');
  // A 502/503 a worker answers itself is about something behind it that all workers share (a dead event
  // persister, the database): passing it on to the next worker would only count healthy workers as
  // failed (max_fails) until nginx has none left for any room.
  assert.ok(!next.includes('http_502') && !next.includes('http_503'), `proxy_next_upstream ${next.join(' ')}`);
  // What nginx answers itself when no worker is reachable is a Matrix error too.
  assert.match(conf, /error_page 502 @\w+;/);
  const room = /upstream generic_worker_by_room \{([^}]*)\}/.exec(conf)?.[1] ?? '';
  assert.ok((room.match(/server /g) ?? []).length >= 2, 'sends are balanced over more than one worker');
});

test('kill -9 a generic worker: nginx fails over, nothing is lost or doubled', async () => {
  phase = 'kill generic worker';
  // The generic worker doing the most client work right now.
  const load = async (n: string) => (await fleet.requestCount(n, 'room_send')) + (await fleet.requestCount(n, 'sync'));
  const victim = (await load('generic1')) >= (await load('generic2')) ? 'generic1' : 'generic2';
  assert.ok((await load(victim)) > 0, `${victim} was serving sends or syncs`);
  const down = Date.now();
  note(`kill ${victim}`);
  await fleet.kill(victim);
  await sleep(4_000);
  const back = Date.now();
  note(`start ${victim}`);
  await fleet.startProcess(victim);
  note(`started ${victim}`);
  await sleep(2_000);

  assertNoneCrashed('kill generic worker');
  for (const [label, n] of workload.ackedIn(rooms, down + 500, back)) assert.ok(n > 0, `${label} got no acknowledged sends while ${victim} was dead`);
  // Sends (PUT) and syncs (GET) are idempotent: nginx retries them on another worker, even those the
  // dead worker had already accepted, so no client sees the crash at all.
  assert.equal(summary(failuresIn(/./, down)), '[]', `clients saw errors while ${victim} was dead or coming back`);
  await checkpoint('kill generic worker');
});

test('kill -9 an event persister: its rooms fail with a Matrix 5xx until it is back; the others carry on', async () => {
  phase = 'kill persister';
  const victim = 'persister1';
  const mine = rooms.filter((r) => r.persister === victim);
  const others = rooms.filter((r) => r.persister !== victim);
  const down = Date.now();
  note(`kill ${victim}`);
  await fleet.kill(victim);
  await sleep(6_000);
  const back = Date.now();
  note(`start ${victim}`);
  await fleet.startProcess(victim);
  note(`started ${victim}`);
  await sleep(3_000);
  const end = Date.now();

  assertNoneCrashed('kill persister');
  const failed = failuresIn(/^send p1/, down, back);
  assert.ok(failed.length > 0, `sends to ${victim}'s rooms failed while it was dead`);
  for (const f of failed) {
    assert.ok(f.status >= 500 && f.status <= 599 && f.json && typeof f.errcode === 'string', `a retryable Matrix error, got ${f.status} ${f.detail}`);
  }
  // The other persister's rooms never noticed.
  assert.deepEqual(summary(failuresIn(/^send p2/, down, end)), '[]', `sends to the other persister's rooms failed`);
  for (const [label, n] of workload.ackedIn(others, down, back)) assert.ok(n >= 3, `${label} kept going while ${victim} was dead (${n} acknowledged)`);
  for (const [label, n] of workload.ackedIn(mine, back, end)) assert.ok(n > 0, `${label} works again once ${victim} is back`);
  await checkpoint('kill persister');
});

test('Redis restarts mid-scenario: every process catches up, syncs miss nothing', async () => {
  phase = 'restart redis';
  const down = Date.now();
  note(`redis kill`);
  await fleet.redis.kill();
  await sleep(4_000);
  const back = Date.now();
  note(`redis start`);
  await fleet.redis.restart();
  // Every process with a client listener reports its bus connected again.
  for (const name of ['main', 'generic1', 'generic2', 'writer1']) {
    const port = fleet.clientPort(name);
    const deadline = Date.now() + 20_000;
    for (;;) {
      const metrics = await (await fetch(`http://127.0.0.1:${port}/_synapse/metrics`)).text();
      if (/^synapse_replication_redis_connected(\{[^}]*\})? 1$/m.test(metrics)) break;
      assert.ok(Date.now() < deadline, `${name} reconnected to Redis`);
      await sleep(200);
    }
  }
  await sleep(2_000);
  assertNoneCrashed('restart redis');
  for (const [label, n] of workload.ackedIn(rooms, down, back)) assert.ok(n > 0, `${label} accepted sends while Redis was down (${n})`);
  await checkpoint('restart redis');
});

test('restart main (and the embedded Postgres): workers reconnect and carry on', async () => {
  phase = 'restart main';
  const down = Date.now();
  note(`main restart`);
  await fleet.restart('main', 'SIGTERM');
  note(`main back`);
  const back = Date.now();
  await sleep(3_000);
  const end = Date.now();
  assertNoneCrashed('restart main');
  for (const [label, n] of workload.ackedIn(rooms, back, end)) assert.ok(n > 0, `${label} works again after main restarted (${n} after ${back - down} ms down)`);
  await checkpoint('restart main');
});
