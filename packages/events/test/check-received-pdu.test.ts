import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JsonObject } from '@hs/core';
import { encodeBase64 } from '@hs/core';
import { buildEvent } from '../src/build-event.ts';
import type { BuiltEvent } from '../src/build-event.ts';
import { authEventTypesFor } from '../src/auth-event-selection.ts';
import type { AuthStateLookup } from '../src/auth-types.ts';
import { checkLocalEvent, checkReceivedPdu } from '../src/check-received-pdu.ts';
import type { ReceivedPduLookups, ReceivedPduOutcome } from '../src/check-received-pdu.ts';
import { toEventView } from '../src/event-id.ts';
import { eventSigningBytes, hashAndSignEvent, signEvent } from '../src/event-signing.ts';
import { getRoomVersion } from '../src/room-versions.ts';
import type { RoomVersion } from '../src/room-versions.ts';
import { generateSigningSeed, keyPairFromSeed, signBytes } from '../src/signing.ts';
import type { Ed25519KeyPair } from '../src/signing.ts';
import type { EventView, PDU } from '../src/types.ts';

const ALICE = '@alice:a.org'; // creator
const BOB = '@bob:b.org'; // moderator (50)
const CAROL = '@carol:c.org'; // plain member

const SERVERS: Record<string, { keyId: string; pair: Ed25519KeyPair }> = {
  'a.org': { keyId: 'ed25519:a1', pair: keyPairFromSeed(generateSigningSeed()) },
  'b.org': { keyId: 'ed25519:b1', pair: keyPairFromSeed(generateSigningSeed()) },
  'c.org': { keyId: 'ed25519:c1', pair: keyPairFromSeed(generateSigningSeed()) },
};
const getVerifyKey = (server: string, keyId: string): Uint8Array | undefined => {
  const s = Object.hasOwn(SERVERS, server) ? SERVERS[server] : undefined;
  return s && s.keyId === keyId ? s.pair.publicKey : undefined;
};
const serverOf = (userId: string): string => userId.slice(userId.indexOf(':') + 1);

type State = Map<string, EventView>;
const key = (type: string, stateKey: string) => `${type}\u0000${stateKey}`;
const lookup = (state: State): AuthStateLookup => (type, k) => state.get(key(type, k));

interface Options {
  /** Choose auth events from this state instead of the current one. */
  readonly authFrom?: State;
  /** Override the chosen auth event IDs. */
  readonly authEvents?: readonly string[];
  readonly prevEvents?: readonly string[];
}

/** A linear room built from real signed events; every event is kept, state is tracked. */
class TestRoom {
  readonly rv: RoomVersion;
  roomId = '';
  readonly events = new Map<string, EventView>();
  readonly pdus = new Map<string, PDU>();
  state: State = new Map();
  head: string[] = [];
  depth = 0;
  ts = 1_700_000_000_000;

  constructor(rv: RoomVersion) {
    this.rv = rv;
    // Before v12 the creator's server mints the room ID; in v12 the create event defines it.
    if (!rv.roomIdFromCreateEvent) this.roomId = '!room:a.org';
  }

  build(sender: string, type: string, content: JsonObject, stateKey?: string, o: Options = {}): BuiltEvent {
    const shape = { type, sender, content, ...(stateKey === undefined ? {} : { state_key: stateKey }) };
    const from = o.authFrom ?? this.state;
    const chosen = authEventTypesFor(this.rv, shape)
      .map(([t, k]) => from.get(key(t, k))?.event_id)
      .filter((id): id is string => id !== undefined);
    const server = serverOf(sender);
    const { keyId, pair } = SERVERS[server]!;
    return buildEvent({
      roomVersion: this.rv,
      ...(this.roomId === '' ? {} : { roomId: this.roomId }),
      sender,
      type,
      ...(stateKey === undefined ? {} : { stateKey }),
      content,
      prevEvents: o.prevEvents ?? this.head,
      authEvents: o.authEvents ?? chosen,
      depth: this.depth + 1,
      originServerTs: ++this.ts,
      serverName: server,
      keyId,
      secretKey: pair.secretKey,
    });
  }

  commit(built: BuiltEvent): EventView {
    const view = toEventView(built.pdu, this.rv, built.eventId);
    if (this.roomId === '') this.roomId = built.roomId;
    this.events.set(view.event_id, view);
    this.pdus.set(view.event_id, built.pdu);
    if (view.state_key !== undefined) this.state.set(key(view.type, view.state_key), view);
    this.head = [view.event_id];
    this.depth++;
    return view;
  }

  send(sender: string, type: string, content: JsonObject, stateKey?: string): EventView {
    return this.commit(this.build(sender, type, content, stateKey));
  }

  snapshot(): State {
    return new Map(this.state);
  }

  lookups(stateBefore: State = this.state, currentState?: State): ReceivedPduLookups {
    return {
      getVerifyKey,
      getEvent: (id) => this.events.get(id),
      stateBefore: lookup(stateBefore),
      ...(currentState ? { currentState: lookup(currentState) } : {}),
    };
  }
}

/** create, alice joins, power levels (bob 50), public join rules, bob and carol join, a message. */
function makeRoom(id: string): TestRoom {
  const rv = getRoomVersion(id)!;
  const room = new TestRoom(rv);
  room.send(ALICE, 'm.room.create', rv.implicitRoomCreator ? { room_version: id } : { creator: ALICE, room_version: id }, '');
  room.send(ALICE, 'm.room.member', { membership: 'join' }, ALICE);
  // v12 creators must not be listed: they already have infinite power.
  const users: JsonObject = rv.privilegedCreators ? { [BOB]: 50 } : { [ALICE]: 100, [BOB]: 50 };
  room.send(ALICE, 'm.room.power_levels', { users }, '');
  room.send(ALICE, 'm.room.join_rules', { join_rule: 'public' }, '');
  room.send(BOB, 'm.room.member', { membership: 'join' }, BOB);
  room.send(CAROL, 'm.room.member', { membership: 'join' }, CAROL);
  room.send(ALICE, 'm.room.message', { msgtype: 'm.text', body: 'welcome' });
  return room;
}

const VERSIONS = ['10', '11', '12'];

function expectAccepted(r: ReceivedPduOutcome, msg: string): Extract<ReceivedPduOutcome, { outcome: 'accepted' }> {
  assert.equal(r.outcome, 'accepted', `${msg}: ${JSON.stringify(r)}`);
  return r as Extract<ReceivedPduOutcome, { outcome: 'accepted' }>;
}

function expectRejected(r: ReceivedPduOutcome, stage: string, reason: RegExp, msg: string): void {
  assert.equal(r.outcome, 'rejected', `${msg}: ${JSON.stringify(r)}`);
  assert.ok(r.outcome === 'rejected');
  assert.equal(r.stage, stage, `${msg}: ${r.reason}`);
  assert.match(r.reason, reason, msg);
  assert.equal(r.event.rejected, true, 'rejected events come back marked');
}

test('every event of a freshly built room is accepted against its own history', () => {
  for (const id of VERSIONS) {
    const rv = getRoomVersion(id)!;
    const replay = new TestRoom(rv);
    const source = makeRoom(id);
    for (const [eventId, pdu] of source.pdus) {
      const r = checkReceivedPdu(pdu, rv, replay.lookups(replay.state, replay.state));
      const ok = expectAccepted(r, `v${id} ${pdu.type}`);
      assert.equal(ok.event.event_id, eventId);
      assert.equal(ok.event.room_id, source.roomId);
      assert.equal(ok.redacted, false);
      assert.equal(ok.softFailed, false);
      assert.equal(ok.pdu, pdu);
      // Feed the accepted event back as history for the next one.
      replay.events.set(eventId, ok.event);
      if (ok.event.state_key !== undefined) replay.state.set(key(ok.event.type, ok.event.state_key), ok.event);
    }
    assert.equal(replay.state.size, source.state.size);
  }
});

test('a valid message is accepted; bad or unknown signatures are dropped', () => {
  for (const id of VERSIONS) {
    const room = makeRoom(id);
    const built = room.build(BOB, 'm.room.message', { msgtype: 'm.text', body: 'hi' });
    const ok = expectAccepted(checkReceivedPdu(built.pdu, room.rv, room.lookups()), `v${id}`);
    assert.equal(ok.event.event_id, built.eventId);
    assert.deepEqual(ok.event.content, { msgtype: 'm.text', body: 'hi' });

    // b.org's key ID, but signed with a.org's key.
    const forged = encodeBase64(signBytes(eventSigningBytes(built.pdu, room.rv), SERVERS['a.org']!.pair.secretKey));
    const bad = { ...built.pdu, signatures: { 'b.org': { 'ed25519:b1': forged } } };
    const r = checkReceivedPdu(bad, room.rv, room.lookups());
    assert.equal(r.outcome, 'dropped', `v${id}`);
    assert.equal(r.outcome === 'dropped' && r.stage, 'signatures');
    assert.match(r.outcome === 'dropped' ? r.reason : '', /b\.org.*bad_signature/);

    const unsigned = checkReceivedPdu({ ...built.pdu, signatures: {} }, room.rv, room.lookups());
    assert.equal(unsigned.outcome === 'dropped' && unsigned.stage, 'signatures');
    const noKeys = checkReceivedPdu(built.pdu, room.rv, { ...room.lookups(), getVerifyKey: () => undefined });
    assert.equal(noKeys.outcome === 'dropped' && noKeys.stage, 'signatures');

    const malformed = checkReceivedPdu({ ...built.pdu, depth: 'deep' }, room.rv, room.lookups());
    assert.equal(malformed.outcome === 'dropped' && malformed.stage, 'format');
  }
});

test('tampered content: accepted, but as the redacted copy', () => {
  for (const id of VERSIONS) {
    const room = makeRoom(id);
    const built = room.build(BOB, 'm.room.message', { msgtype: 'm.text', body: 'original' });
    const tampered = { ...built.pdu, content: { msgtype: 'm.text', body: 'tampered' } };
    const ok = expectAccepted(checkReceivedPdu(tampered, room.rv, room.lookups()), `v${id}`);
    assert.equal(ok.redacted, true);
    assert.deepEqual(ok.event.content, {});
    assert.deepEqual(ok.pdu.content, {});
    assert.equal(ok.event.event_id, built.eventId, 'the event ID covers the redacted form only');

    // A redacted state event still counts: a tampered membership keeps `membership`.
    const leave = room.build(CAROL, 'm.room.member', { membership: 'leave', reason: 'bye' }, CAROL);
    const tamperedLeave = { ...leave.pdu, content: { membership: 'leave', reason: 'edited' } };
    const l = expectAccepted(checkReceivedPdu(tamperedLeave, room.rv, room.lookups()), `v${id} leave`);
    assert.equal(l.redacted, true);
    assert.deepEqual(l.event.content, { membership: 'leave' });
  }
});

test('auth events without the power levels the event needs: rejected at auth_events', () => {
  for (const id of VERSIONS) {
    const room = makeRoom(id);
    const plId = room.state.get(key('m.room.power_levels', ''))!.event_id;
    // Bob may ban only thanks to the power levels; leave them out of auth_events.
    const ban = room.build(BOB, 'm.room.member', { membership: 'ban' }, CAROL);
    const withoutPl = ban.pdu.auth_events.filter((a) => a !== plId) as string[];
    assert.equal(withoutPl.length, ban.pdu.auth_events.length - 1);
    const stripped = room.build(BOB, 'm.room.member', { membership: 'ban' }, CAROL, { authEvents: withoutPl });
    const r = checkReceivedPdu(stripped.pdu, room.rv, room.lookups());
    expectRejected(r, 'auth_events', /ban/, `v${id}`);
    // The same ban with proper auth events is fine.
    expectAccepted(checkReceivedPdu(ban.pdu, room.rv, room.lookups()), `v${id} proper ban`);
  }
});

test('auth_events list problems: unknown, rejected, duplicate or unselectable entries', () => {
  for (const id of VERSIONS) {
    const room = makeRoom(id);
    const built = room.build(BOB, 'm.room.message', { body: 'x' });
    const plId = room.state.get(key('m.room.power_levels', ''))!.event_id;

    const missing: ReceivedPduLookups = { ...room.lookups(), getEvent: (e) => (e === plId ? undefined : room.events.get(e)) };
    expectRejected(checkReceivedPdu(built.pdu, room.rv, missing), 'auth_events', new RegExp(`${escape(plId)} is unknown`), `v${id}`);

    const pl = room.events.get(plId)!;
    const rejectedPl: ReceivedPduLookups = {
      ...room.lookups(),
      getEvent: (e) => (e === plId ? { ...pl, rejected: true } : room.events.get(e)),
    };
    expectRejected(checkReceivedPdu(built.pdu, room.rv, rejectedPl), 'auth_events', /was rejected/, `v${id}`);

    // A lookup that answers with a different event than was asked for counts as unknown.
    const confused: ReceivedPduLookups = { ...room.lookups(), getEvent: (e) => (e === plId ? room.events.get(room.head[0]!) : room.events.get(e)) };
    expectRejected(checkReceivedPdu(built.pdu, room.rv, confused), 'auth_events', /unknown/, `v${id}`);

    const joinRules = room.state.get(key('m.room.join_rules', ''))!.event_id;
    const extra = room.build(BOB, 'm.room.message', { body: 'x' }, undefined, {
      authEvents: [...(built.pdu.auth_events as string[]), joinRules],
    });
    expectRejected(checkReceivedPdu(extra.pdu, room.rv, room.lookups()), 'auth_events', /not selectable/, `v${id}`);

    const twice = room.build(BOB, 'm.room.message', { body: 'x' }, undefined, {
      authEvents: [...(built.pdu.auth_events as string[]), plId],
    });
    expectRejected(checkReceivedPdu(twice.pdu, room.rv, room.lookups()), 'auth_events', /duplicate/, `v${id}`);
  }
});

test('room v12: the create event comes from the room ID and must be known and accepted', () => {
  const room = makeRoom('12');
  const createId = `$${room.roomId.slice(1)}`;
  const built = room.build(BOB, 'm.room.message', { body: 'x' });
  assert.equal((built.pdu.auth_events as string[]).includes(createId), false);
  const unknown: ReceivedPduLookups = { ...room.lookups(), getEvent: (e) => (e === createId ? undefined : room.events.get(e)) };
  expectRejected(checkReceivedPdu(built.pdu, room.rv, unknown), 'auth_events', /create event .* is unknown/, 'v12');
  const create = room.events.get(createId)!;
  const rejected: ReceivedPduLookups = {
    ...room.lookups(),
    getEvent: (e) => (e === createId ? { ...create, rejected: true } : room.events.get(e)),
  };
  expectRejected(checkReceivedPdu(built.pdu, room.rv, rejected), 'auth_events', /create event .* was rejected/, 'v12');
});

test('passes its auth events but not the state before it (sender banned in between): rejected', () => {
  for (const id of VERSIONS) {
    const room = makeRoom(id);
    const beforeBan = room.snapshot();
    room.send(ALICE, 'm.room.member', { membership: 'ban' }, CAROL);
    // Carol's server builds on the ban but cites her old join as auth.
    const msg = room.build(CAROL, 'm.room.message', { body: 'still here' }, undefined, { authFrom: beforeBan });
    const r = checkReceivedPdu(msg.pdu, room.rv, room.lookups(room.state));
    expectRejected(r, 'state_before', /not joined/, `v${id}`);
    assert.equal(r.outcome === 'rejected' && r.event.event_id, msg.eventId);
  }
});

test('passes the state before it but not the current state: soft failed', () => {
  for (const id of VERSIONS) {
    const room = makeRoom(id);
    const beforeBan = room.snapshot();
    const forkPoint = room.head;
    room.send(ALICE, 'm.room.member', { membership: 'ban' }, CAROL);
    // Carol's server has not seen the ban and builds on the old head.
    const msg = room.build(CAROL, 'm.room.message', { body: 'evading' }, undefined, { authFrom: beforeBan, prevEvents: forkPoint });
    const r = expectAccepted(checkReceivedPdu(msg.pdu, room.rv, room.lookups(beforeBan, room.state)), `v${id}`);
    assert.equal(r.softFailed, true);
    assert.match(r.softFailReason ?? '', /not joined/);
    // Without current state there is no soft-fail check.
    const noCurrent = expectAccepted(checkReceivedPdu(msg.pdu, room.rv, room.lookups(beforeBan)), `v${id}`);
    assert.equal(noCurrent.softFailed, false);
    assert.equal(noCurrent.softFailReason, undefined);
  }
});

test('restricted joins: the authorising server’s signature is enforced end to end', () => {
  const room = makeRoom('10');
  room.send(ALICE, 'm.room.join_rules', { join_rule: 'restricted', allow: [{ type: 'm.room_membership', room_id: '!other:a.org' }] }, '');
  const DAN = '@dan:b.org';
  const join = room.build(DAN, 'm.room.member', { membership: 'join', join_authorised_via_users_server: ALICE }, DAN);
  const r = checkReceivedPdu(join.pdu, room.rv, room.lookups());
  assert.equal(r.outcome === 'dropped' && r.stage, 'signatures', JSON.stringify(r));
  assert.match(r.outcome === 'dropped' ? r.reason : '', /a\.org.*not_signed/);
  const a = SERVERS['a.org']!;
  const cosigned = signEvent(join.pdu, room.rv, 'a.org', a.keyId, a.pair.secretKey);
  const ok = expectAccepted(checkReceivedPdu(cosigned, room.rv, room.lookups()), 'co-signed');
  assert.equal(ok.redacted, false);
});

test('checkLocalEvent: format and auth against the state before, no signature check', () => {
  for (const id of VERSIONS) {
    const room = makeRoom(id);
    const built = room.build(CAROL, 'm.room.message', { body: 'local' });
    const ok = checkLocalEvent(built.pdu, room.rv, lookup(room.state));
    assert.equal(ok.outcome, 'accepted');
    assert.equal(ok.outcome === 'accepted' && ok.event.event_id, built.eventId);
    // Our own signature is trusted, not checked.
    assert.equal(checkLocalEvent({ ...built.pdu, signatures: {} }, room.rv, lookup(room.state)).outcome, 'accepted');
    const badFormat = checkLocalEvent({ ...built.pdu, content: 'x' }, room.rv, lookup(room.state));
    assert.equal(badFormat.outcome === 'dropped' && badFormat.stage, 'format');
    // Carol cannot set power levels.
    const pl = room.build(CAROL, 'm.room.power_levels', { users: { [CAROL]: 100 } }, '');
    const denied = checkLocalEvent(pl.pdu, room.rv, lookup(room.state));
    assert.equal(denied.outcome === 'rejected' && denied.stage, 'state_before');
    assert.match(denied.outcome === 'rejected' ? denied.reason : '', /power level/);
  }
});

test('exceptions from the caller’s lookups propagate unchanged', () => {
  const room = makeRoom('11');
  const built = room.build(BOB, 'm.room.message', { body: 'x' });
  const boom = new Error('key store down');
  assert.throws(() => checkReceivedPdu(built.pdu, room.rv, { ...room.lookups(), getVerifyKey: () => { throw boom; } }), (e) => e === boom);
  assert.throws(() => checkReceivedPdu(built.pdu, room.rv, { ...room.lookups(), stateBefore: () => { throw boom; } }), (e) => e === boom);
});

// ---------------------------------------------------------------------------------------------
// Fuzzing: random JSON and random mutations of valid events must never throw.

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FIELDS = [
  'type', 'sender', 'state_key', 'room_id', 'content', 'prev_events', 'auth_events', 'depth', 'origin_server_ts',
  'hashes', 'signatures', 'unsigned', 'event_id', 'redacts', 'membership', 'join_authorised_via_users_server', 'users',
  'join_rule', 'sha256', 'a.org', 'ed25519:a1',
];
const STRINGS = [
  '', 'm.room.create', 'm.room.member', 'm.room.power_levels', 'm.room.join_rules', 'm.room.message', 'join', 'ban',
  'leave', 'invite', 'knock', 'public', 'restricted', ALICE, BOB, CAROL, '@x', '$ev', '!room:a.org', 'a.org',
  '\u0000', '\u{1F600}', 'x'.repeat(300),
];

function randomJson(r: () => number, depth = 0): unknown {
  const pick = Math.floor(r() * (depth > 3 ? 6 : 9));
  switch (pick) {
    case 0: return null;
    case 1: return r() < 0.5;
    case 2: return [0, -1, 1.5, 2 ** 53, -(2 ** 60), NaN, Infinity, 1e308][Math.floor(r() * 8)];
    case 3: return Math.floor(r() * 1e6);
    case 4: case 5: return STRINGS[Math.floor(r() * STRINGS.length)];
    case 6: return Array.from({ length: Math.floor(r() * 4) }, () => randomJson(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = Math.floor(r() * 6); i > 0; i--) o[FIELDS[Math.floor(r() * FIELDS.length)]!] = randomJson(r, depth + 1);
      return o;
    }
  }
}

function mutate(r: () => number, pdu: PDU, room: TestRoom): unknown {
  const ev = structuredClone(pdu) as Record<string, unknown>;
  for (let n = 1 + Math.floor(r() * 3); n > 0; n--) {
    const field = FIELDS[Math.floor(r() * 11)]!;
    const roll = r();
    if (roll < 0.2) delete ev[field];
    else if (roll < 0.5) ev[field] = randomJson(r);
    else if (roll < 0.7 && typeof ev.content === 'object' && ev.content !== null) {
      (ev.content as Record<string, unknown>)[FIELDS[Math.floor(r() * FIELDS.length)]!] = randomJson(r);
    } else {
      // Borrow a field from another real event: plausible values reach the deeper checks.
      const others = [...room.pdus.values()];
      const other = others[Math.floor(r() * others.length)]! as Record<string, unknown>;
      ev[field] = structuredClone(other[field]);
    }
  }
  if (r() < 0.6) {
    // Re-sign so the mutant gets past the signature check and into the auth stages.
    const sender = typeof ev.sender === 'string' ? serverOf(ev.sender) : 'a.org';
    const s = Object.hasOwn(SERVERS, sender) ? SERVERS[sender]! : SERVERS['a.org']!;
    try {
      return hashAndSignEvent(ev, room.rv, Object.hasOwn(SERVERS, sender) ? sender : 'a.org', s.keyId, s.pair.secretKey);
    } catch {
      return ev; // not signable (e.g. non-canonical numbers): the unsigned mutant is still a fine input
    }
  }
  return ev;
}

test('fuzz: random JSON and mutated events never throw', () => {
  const counts: Record<string, number> = {};
  for (const id of VERSIONS) {
    const room = makeRoom(id);
    const full = room.snapshot();
    room.send(ALICE, 'm.room.member', { membership: 'ban' }, CAROL);
    // Vary the state around the event so mutants also reach the state_before and soft-fail checks.
    const variants = [room.lookups(full, full), room.lookups(room.state, room.state), room.lookups(full, room.state)];
    const valid = [...room.pdus.values()];
    const r = prng(Number(id) * 7919);
    const run = (input: unknown) => {
      const out = checkReceivedPdu(input, room.rv, variants[Math.floor(r() * variants.length)]!);
      const tag = `${out.outcome}:${out.outcome === 'accepted' ? (out.redacted ? 'redacted' : out.softFailed ? 'soft' : 'clean') : out.stage}`;
      counts[tag] = (counts[tag] ?? 0) + 1;
      if (out.outcome !== 'dropped') {
        assert.equal(typeof out.event.event_id, 'string');
        assert.equal(typeof out.event.room_id, 'string');
      }
      assert.equal(typeof (out.outcome === 'accepted' ? out.event.type : out.reason), 'string');
      // The defensive catch-all must never be what handled an input.
      assert.doesNotMatch(out.outcome === 'accepted' ? '' : out.reason, /internal error/);
    };
    for (let i = 0; i < 700; i++) run(randomJson(r));
    for (let i = 0; i < 300; i++) run({ ...valid[i % valid.length], ...(randomJson(r, 3) as object) });
    for (let i = 0; i < 1000; i++) run(mutate(r, valid[Math.floor(r() * valid.length)]!, room));
    for (const odd of [undefined, null, 0, '', [], () => 1, Symbol('s'), new Map(), Object.create(null), 10n]) run(odd);
  }
  if (process.env.FUZZ_COUNTS) console.log(counts);
  // The corpus must reach every kind of outcome, or the loop would prove little.
  const tags = ['dropped:format', 'dropped:signatures', 'rejected:auth_events', 'rejected:state_before', 'accepted:clean', 'accepted:redacted', 'accepted:soft'];
  for (const tag of tags) {
    assert.ok((counts[tag] ?? 0) > 0, `fuzz never produced ${tag}: ${JSON.stringify(counts)}`);
  }
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
