/**
 * Independent oracle: thousands of random events across every room version, checked against the
 * Python libraries Synapse itself uses (canonicaljson, signedjson, matrix-synapse) through one
 * long-lived helper process (test/oracle/oracle.py). Needs `pip install canonicaljson signedjson
 * matrix-synapse`; without them the test skips loudly, or fails when CI is set.
 * Reproduce a failure with ORACLE_SEED=<seed printed on failure>.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import path from 'node:path';
import type { JsonObject, JsonValue } from '@hs/core';
import { canonicalJson, encodeBase64, parseCanonicalJson, setOwnProperty } from '@hs/core';
import { hashAndSignEvent } from '../src/event-signing.ts';
import { computeEventId, eventRoomId } from '../src/event-id.ts';
import { referenceHash } from '../src/hashes.ts';
import { validatePduFormat } from '../src/pdu-format.ts';
import { redactEvent } from '../src/redaction.ts';
import { ROOM_VERSIONS } from '../src/room-versions.ts';
import type { RoomVersion } from '../src/room-versions.ts';
import { keyPairFromSeed } from '../src/signing.ts';
import { verifyEvent } from '../src/verify-event.ts';
import type { PDU } from '../src/types.ts';

const EVENTS_PER_VERSION = 250;
const BATCH = 500;
const SERVER = 'oracle.test';
const KEY_ID = 'ed25519:oracle';
const SEED = new Uint8Array(32).map((_, i) => (i * 73 + 11) & 0xff);
const KEYS = keyPairFromSeed(SEED);

// ---------------------------------------------------------------------------------------------
// Seeded random generation

class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** mulberry32 */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
}

/** Pieces chosen to stress escaping and code-point ordering (controls, U+E000+, astral). */
const PIECES = [
  'a', 'b', 'Z', '0', ' ', 'body', '"', '\\', '/', '\b', '\f', '\n', '\r', '\t', '\u0000', '\u0001', '\u001f',
  '\u007f', 'é', '日本', '\u2028', '\uE000', '\uFFFD', '\uFFFF', '😀', '𝄞', '\u{10FFFF}', '\u{10000}', '$', ':', '@',
];
const KEYS_POOL = ['body', 'msgtype', 'a', 'b', 'aa', 'A', '', '__proto__', '\uE000', '\uFFFD', '😀', '𝄞x', 'url', 'é'];

function randomString(r: Rng, maxPieces = 6): string {
  let s = '';
  for (let i = r.int(maxPieces + 1); i > 0; i--) s += r.pick(PIECES);
  return s;
}

function randomKey(r: Rng): string {
  return r.chance(0.5) ? r.pick(KEYS_POOL) : randomString(r, 3);
}

function randomInt(r: Rng): number {
  const n = r.pick([
    0, 1, -1, 42, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, -0,
    r.int(1000), (r.next() - 0.5) * 2 * Number.MAX_SAFE_INTEGER,
  ]);
  return Math.trunc(n);
}

/** Room v1–5 only: values the strict rules forbid but old rooms carry. */
function randomLenientNumber(r: Rng): number {
  return r.pick([2 ** 60, -(2 ** 55), 2 ** 53, 0.5, -1.25, 1.5e-7, 123.456, 1e-5, 4503599627370495.5, r.next() * 1000 + 0.1]);
}

function randomValue(r: Rng, v: RoomVersion, depth: number): JsonValue {
  const roll = r.next();
  if (depth >= 3 || roll < 0.55) {
    const p = r.next();
    if (p < 0.35) return randomString(r);
    if (p < 0.65) return !v.strictCanonicalJson && r.chance(0.3) ? randomLenientNumber(r) : randomInt(r);
    if (p < 0.8) return r.chance(0.5);
    return null;
  }
  if (roll < 0.75) return Array.from({ length: r.int(4) }, () => randomValue(r, v, depth + 1));
  return randomObject(r, v, depth + 1);
}

function randomObject(r: Rng, v: RoomVersion, depth: number, size = 4): JsonObject {
  const o: JsonObject = {};
  for (let i = r.int(size + 1); i > 0; i--) setOwnProperty(o, randomKey(r), randomValue(r, v, depth));
  return o;
}

function b64Chars(r: Rng, n: number, urlSafe: boolean): string {
  const alphabet = urlSafe
    ? 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    : 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[r.int(64)];
  return s;
}

function randomUser(r: Rng): string {
  return `@${r.pick(['alice', 'bob', 'x.y', 'u_1'])}${r.int(100)}:${r.pick([SERVER, 'other.example', 'b.org:8448'])}`;
}

function eventRef(r: Rng, v: RoomVersion): JsonValue {
  if (v.eventIdFormat === 'wire') return [`$${b64Chars(r, 10, true)}:${SERVER}`, { sha256: b64Chars(r, 43, false) }];
  return '$' + b64Chars(r, 43, v.eventIdFormat === 'urlsafe-base64');
}

/** Content with every key any redaction list mentions, plus junk, per event type. */
function randomContent(r: Rng, v: RoomVersion, type: string): JsonObject {
  const c = r.chance(0.5) ? randomObject(r, v, 1, 3) : {};
  const maybe = (key: string, value: () => JsonValue) => {
    if (r.chance(0.7)) c[key] = value();
  };
  switch (type) {
    case 'm.room.member':
      maybe('membership', () => r.pick(['join', 'leave', 'invite', 'ban', 'knock']));
      maybe('join_authorised_via_users_server', () => randomUser(r));
      maybe('displayname', () => randomString(r));
      maybe('avatar_url', () => 'mxc://x/y');
      maybe('third_party_invite', () =>
        r.pick<() => JsonValue>([
          () => ({ display_name: randomString(r), signed: { mxid: randomUser(r), token: 'abc', signatures: {} } }),
          () => ({ display_name: randomString(r) }),
          () => ({ signed: null }),
          () => 'not-an-object',
          () => [1, 2],
        ])(),
      );
      break;
    case 'm.room.power_levels':
      for (const k of ['ban', 'events_default', 'invite', 'kick', 'redact', 'state_default', 'users_default']) {
        maybe(k, () => r.int(101));
      }
      maybe('events', () => ({ 'm.room.name': 50, 'm.room.power_levels': 100 }));
      maybe('users', () => ({ [randomUser(r)]: 100 }));
      maybe('notifications', () => ({ room: 50 }));
      break;
    case 'm.room.join_rules':
      maybe('join_rule', () => r.pick(['public', 'invite', 'knock', 'restricted', 'knock_restricted']));
      maybe('allow', () => [{ type: 'm.room_membership', room_id: '!abc:' + SERVER }]);
      break;
    case 'm.room.create':
      maybe('creator', () => randomUser(r));
      maybe('room_version', () => v.id);
      maybe('m.federate', () => r.chance(0.5));
      maybe('additional_creators', () => [randomUser(r)]);
      maybe('predecessor', () => ({ room_id: '!old:' + SERVER, event_id: '$old' }));
      maybe('type', () => 'm.space');
      break;
    case 'm.room.history_visibility':
      maybe('history_visibility', () => r.pick(['shared', 'joined', 'invited', 'world_readable']));
      break;
    case 'm.room.aliases':
      maybe('aliases', () => ['#a:' + SERVER]);
      break;
    case 'm.room.redaction':
      maybe('reason', () => randomString(r));
      if (v.redactsInContent || r.chance(0.3)) c.redacts = eventRefId(r, v);
      break;
    default:
      maybe('body', () => randomString(r, 10));
  }
  return c;
}

function eventRefId(r: Rng, v: RoomVersion): string {
  const ref = eventRef(r, v);
  return Array.isArray(ref) ? (ref[0] as string) : (ref as string);
}

const TYPES = [
  'm.room.message', 'm.room.member', 'm.room.power_levels', 'm.room.join_rules', 'm.room.create',
  'm.room.history_visibility', 'm.room.aliases', 'm.room.redaction', 'com.example.state', 'com.example.\u{1F600}',
];
const STATE_TYPES = new Set([
  'm.room.member', 'm.room.power_levels', 'm.room.join_rules', 'm.room.create', 'm.room.history_visibility',
  'm.room.aliases', 'com.example.state',
]);

function randomEvent(r: Rng, v: RoomVersion): JsonObject {
  const type = r.pick(TYPES);
  const ev: JsonObject = {
    type,
    sender: randomUser(r),
    content: randomContent(r, v, type),
    origin_server_ts: r.int(2 ** 42),
    depth: r.chance(0.1) ? Number.MAX_SAFE_INTEGER : r.int(1_000_000),
    prev_events: Array.from({ length: r.int(4) }, () => eventRef(r, v)),
    auth_events: Array.from({ length: r.int(5) }, () => eventRef(r, v)),
  };
  if (STATE_TYPES.has(type) || r.chance(0.1)) {
    ev.state_key = type === 'm.room.member' ? randomUser(r) : type === 'm.room.create' || r.chance(0.5) ? '' : randomString(r);
  }
  const v12Create = v.roomIdFromCreateEvent && type === 'm.room.create' && ev.state_key === '';
  if (v12Create) {
    ev.prev_events = [];
    ev.auth_events = [];
  } else {
    ev.room_id = v.roomIdFromCreateEvent ? '!' + b64Chars(r, 43, true) : `!${b64Chars(r, 8, true)}:${SERVER}`;
  }
  if (v.eventIdFormat === 'wire') ev.event_id = `$${b64Chars(r, 12, true)}:${SERVER}`;
  if (type === 'm.room.redaction' && !v.redactsInContent) ev.redacts = eventRefId(r, v);
  // Legacy top-level keys: protected up to v10, dropped by v11 redaction.
  if (r.chance(0.3)) ev.origin = SERVER;
  if (r.chance(0.2)) ev.membership = 'join';
  if (r.chance(0.2)) ev.prev_state = [];
  if (r.chance(0.3)) ev.unsigned = { age: r.int(10000), extra: randomValue(r, v, 2) };
  if (r.chance(0.2)) ev.com_example_top = randomValue(r, v, 1);
  return ev;
}

// ---------------------------------------------------------------------------------------------
// The Python process

interface OracleResult {
  error?: string;
  canonical: string;
  content_hash: string;
  redacted: string;
  reference_hash: string;
  event_id: string;
  room_id: string;
  verifies: boolean;
  verify_error?: string;
  hashes: JsonObject;
  signatures: JsonObject;
}

interface Oracle {
  readonly info: JsonObject;
  request(body: JsonObject): Promise<JsonObject>;
  close(): void;
}

async function startOracle(): Promise<Oracle | string> {
  const python = process.env.ORACLE_PYTHON ?? 'python3';
  const script = path.join(import.meta.dirname, 'oracle', 'oracle.py');
  let child: ChildProcessWithoutNullStreams;
  try {
    child = spawn(python, [script], { stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (e) {
    return `cannot start ${python}: ${(e as Error).message}`;
  }
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines: string[] = [];
  const waiters: ((line: string | undefined) => void)[] = [];
  let closed = false;
  const rl = createInterface({ input: child.stdout });
  rl.on('line', (line) => {
    const w = waiters.shift();
    if (w) w(line);
    else lines.push(line);
  });
  const finish = () => {
    closed = true;
    for (const w of waiters.splice(0)) w(undefined);
  };
  rl.on('close', finish);
  const spawnError = new Promise<string>((resolve) => child.on('error', (e) => resolve(`cannot start ${python}: ${e.message}`)));
  const nextLine = () =>
    new Promise<string | undefined>((resolve) => {
      const line = lines.shift();
      if (line !== undefined) resolve(line);
      else if (closed) resolve(undefined);
      else waiters.push(resolve);
    });

  const first = await Promise.race([nextLine(), spawnError.then((msg) => ({ spawnError: msg }))]);
  if (typeof first === 'object' && first !== null) return first.spawnError;
  if (first === undefined) return `oracle exited: ${stderr.trim().split('\n').pop() ?? ''}`;
  const hello = JSON.parse(first) as JsonObject;
  if (hello.ready !== true) {
    child.stdin.end();
    return String(hello.error);
  }
  return {
    info: hello,
    async request(body) {
      // Canonical JSON, not JSON.stringify: it keeps the v1–5 out-of-range numbers as we hash them.
      child.stdin.write(canonicalJson(body, { lenientNumbers: true }) + '\n');
      const line = await nextLine();
      if (line === undefined) throw new Error(`oracle died: ${stderr}`);
      return JSON.parse(line) as JsonObject;
    },
    close() {
      child.stdin.end();
    },
  };
}

// ---------------------------------------------------------------------------------------------

test('cross-check canonical JSON, hashes, event IDs, redaction and signatures against Synapse', async (t) => {
  const oracle = await startOracle();
  if (typeof oracle === 'string') {
    const msg = `Python oracle unavailable (${oracle}). Install it: pip install canonicaljson signedjson matrix-synapse`;
    if (process.env.CI) assert.fail(msg);
    console.warn(`\n*** ${msg} — SKIPPING the Synapse oracle cross-check ***\n`);
    t.skip(msg);
    return;
  }
  try {
    const seed = process.env.ORACLE_SEED !== undefined ? Number(process.env.ORACLE_SEED) : Date.now() % 1_000_000;
    const r = new Rng(seed);
    const versions = [...ROOM_VERSIONS.values()];
    const known = oracle.info.room_versions as string[];
    for (const v of versions) assert.ok(known.includes(v.id), `Synapse knows room version ${v.id}`);

    const cases: { v: RoomVersion; event: PDU }[] = [];
    for (const v of versions) {
      for (let i = 0; i < EVENTS_PER_VERSION; i++) {
        const raw = randomEvent(r, v);
        const signed = hashAndSignEvent(raw, v, SERVER, KEY_ID, KEYS.secretKey) as unknown as PDU;
        const format = validatePduFormat(signed, v);
        assert.ok(format.ok, `seed ${seed}: generated event fails our format check (${format.ok ? '' : format.error.message}): ${canonicalJson(signed, { lenientNumbers: true })}`);
        cases.push({ v, event: signed });
      }
    }

    let compared = 0;
    for (let start = 0; start < cases.length; start += BATCH) {
      const batch = cases.slice(start, start + BATCH);
      const reply: JsonObject = await oracle.request({
        seed: encodeBase64(SEED),
        server: SERVER,
        key_id: KEY_ID,
        events: batch.map(({ v, event }) => ({ v: v.id, event: event as unknown as JsonObject })),
      });
      assert.equal(reply.error, undefined, String(reply.error));
      const results = reply.results as unknown as OracleResult[];
      assert.equal(results.length, batch.length);
      batch.forEach(({ v, event }, i) => {
        compareOne(v, event, results[i]!, seed);
        compared++;
      });
    }
    assert.equal(compared, versions.length * EVENTS_PER_VERSION);
    t.diagnostic(`compared ${compared} events with ${JSON.stringify(oracle.info.versions)} (seed ${seed})`);
  } finally {
    oracle.close();
  }
});

function compareOne(v: RoomVersion, event: PDU, py: OracleResult, seed: number): void {
  const lenient = { lenientNumbers: !v.strictCanonicalJson };
  const where = () => `seed ${seed}, room v${v.id}, event ${canonicalJson(event, { lenientNumbers: true })}`;
  const same = (what: string, ours: unknown, theirs: unknown) => {
    if (canonicalJson(ours, { lenientNumbers: true }) !== canonicalJson(theirs, { lenientNumbers: true })) {
      assert.fail(`${what} differs from Synapse\n  ours:   ${JSON.stringify(ours)}\n  theirs: ${JSON.stringify(theirs)}\n  ${where()}`);
    }
  };
  if (py.error !== undefined) assert.fail(`Synapse refused the event: ${py.error}\n  ${where()}`);

  same('canonical JSON', canonicalJson(event, lenient), py.canonical);
  // Our parser reads Synapse's output back to the same bytes.
  same('canonical JSON round trip', canonicalJson(parseCanonicalJson(py.canonical, { strict: v.strictCanonicalJson }), lenient), py.canonical);
  same('content hash', event.hashes.sha256, py.content_hash);
  const { unsigned: _u, ...redacted } = redactEvent(event, v) as Record<string, unknown>;
  same('redacted event', canonicalJson(redacted, lenient), py.redacted);
  same('reference hash', encodeBase64(referenceHash(event, v)), py.reference_hash);
  const eventId = computeEventId(event, v);
  same('event ID', eventId, py.event_id);
  same('room ID', eventRoomId(event, v, eventId), py.room_id);
  same('hashes from Synapse signing', event.hashes, py.hashes);
  same('signatures from Synapse signing', event.signatures, py.signatures);
  if (!py.verifies) assert.fail(`signedjson rejects our signature: ${py.verify_error}\n  ${where()}`);
  const ours = verifyEvent(event, v, (server, keyId) => (server === SERVER && keyId === KEY_ID ? KEYS.publicKey : undefined));
  const senderServer = event.sender.slice(event.sender.indexOf(':') + 1);
  const thirdParty = event.type === 'm.room.member' && event.content.membership === 'invite' && 'third_party_invite' in event.content;
  // v8+: a restricted join also needs its authorising user's server, which only we sign for here.
  const via = event.content.join_authorised_via_users_server;
  const restrictedJoin = v.restrictedJoinRule && event.type === 'm.room.member' && event.content.membership === 'join' && via !== undefined;
  const authoriserOk = !restrictedJoin || (typeof via === 'string' && via.slice(via.indexOf(':') + 1) === SERVER);
  if ((senderServer === SERVER || thirdParty) && authoriserOk) {
    if (!ours.ok) assert.fail(`verifyEvent rejects it: ${JSON.stringify(ours)}\n  ${where()}`);
    same('verifyEvent event ID', ours.eventId, py.event_id);
    same('verifyEvent hash check', ours.redacted, false);
  } else {
    // Signed by oracle.test but sent by another server's user: must be dropped.
    same('verifyEvent on a foreign sender', ours.ok ? 'accepted' : ours.stage, 'signatures');
  }
}
