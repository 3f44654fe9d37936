import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JsonObject } from '@hs/core';
import { canonicalJson } from '@hs/core';
import { EventFormatError, MAX_PDU_BYTES, parsePdu, validatePduFormat } from '../src/pdu-format.ts';
import type { EventFormatReason } from '../src/pdu-format.ts';
import { getRoomVersion, ROOM_VERSIONS } from '../src/room-versions.ts';
import type { RoomVersion } from '../src/room-versions.ts';

const rv = (id: string): RoomVersion => getRoomVersion(id)!;

function valid(v: RoomVersion): JsonObject {
  const wire = v.eventIdFormat === 'wire';
  const ev: JsonObject = {
    room_id: v.roomIdFromCreateEvent ? '!Peb6jqBYLNdyaT0lXdvyjCpnvZauVDBvGH_8-ybEFXA' : '!r:x.org',
    sender: '@u:x.org',
    type: 'm.room.message',
    content: { body: 'hi' },
    origin_server_ts: 1,
    depth: 5,
    hashes: { sha256: 'abc' },
    signatures: { 'x.org': { 'ed25519:1': 'sig' } },
    prev_events: wire ? [['$p:x.org', { sha256: 'h' }]] : ['$p'],
    auth_events: wire ? [['$a:x.org', { sha256: 'h' }]] : ['$a'],
    unsigned: { age: 3 },
  };
  if (wire) ev.event_id = '$e:x.org';
  return ev;
}

function expectReason(input: unknown, v: RoomVersion, reason: EventFormatReason, label: string): EventFormatError {
  const r = validatePduFormat(input, v);
  assert.equal(r.ok, false, `${label} should fail in v${v.id}`);
  if (r.ok) throw new Error('unreachable');
  assert.ok(r.error instanceof EventFormatError);
  assert.equal(r.error.reason, reason, `${label} in v${v.id}: ${r.error.message}`);
  return r.error;
}

test('a well-formed PDU passes in every version', () => {
  for (const v of ROOM_VERSIONS.values()) {
    const ev = valid(v);
    const r = validatePduFormat(ev, v);
    assert.ok(r.ok, `v${v.id}: ${r.ok ? '' : r.error.message}`);
    assert.equal(r.pdu, ev);
    const parsed = parsePdu(JSON.stringify(ev), v);
    assert.ok(parsed.ok);
  }
});

test('required fields and their types', () => {
  for (const v of ROOM_VERSIONS.values()) {
    for (const field of ['type', 'sender', 'room_id', 'content', 'depth', 'origin_server_ts', 'hashes', 'signatures', 'prev_events', 'auth_events']) {
      const { [field]: _gone, ...rest } = valid(v);
      expectReason(rest, v, 'missing_field', `without ${field}`);
    }
    const wrongs: [string, unknown][] = [
      ['type', 1],
      ['sender', null],
      ['room_id', 5],
      ['state_key', null],
      ['state_key', 3],
      ['content', []],
      ['content', 'x'],
      ['depth', '1'],
      ['depth', 1.5],
      ['origin_server_ts', 'x'],
      ['hashes', []],
      ['hashes', { sha256: 1 }],
      ['signatures', []],
      ['signatures', { 'x.org': 1 }],
      ['signatures', { 'x.org': { k: 1 } }],
      ['prev_events', {}],
      ['auth_events', 'x'],
      ['prev_events', [1]],
    ];
    for (const [field, value] of wrongs) expectReason({ ...valid(v), [field]: value }, v, 'wrong_type', `${field}=${JSON.stringify(value)}`);
    expectReason({ ...valid(v), hashes: {} }, v, 'missing_field', 'hashes without sha256');
    expectReason({ ...valid(v), depth: -1 }, v, 'bad_depth', 'negative depth');
  }
  expectReason([], rv('1'), 'not_an_object', 'array');
  expectReason(null, rv('1'), 'not_an_object', 'null');
  expectReason('x', rv('1'), 'not_an_object', 'string');
});

test('per-version shapes: event_id, references, v12 room IDs', () => {
  // v1–2 need event_id and [id, hashes] pairs.
  const { event_id: _e, ...noId } = valid(rv('1'));
  expectReason(noId, rv('1'), 'missing_field', 'v1 without event_id');
  expectReason({ ...valid(rv('2')), event_id: 7 }, rv('2'), 'wrong_type', 'v2 numeric event_id');
  expectReason({ ...valid(rv('1')), prev_events: ['$p:x'] }, rv('1'), 'wrong_type', 'v1 bare reference');
  expectReason({ ...valid(rv('1')), prev_events: [['$p:x']] }, rv('1'), 'wrong_type', 'v1 short reference');
  expectReason({ ...valid(rv('1')), auth_events: [['$p:x', { sha256: 1 }]] }, rv('1'), 'wrong_type', 'v1 bad hash');
  // v3+ compute IDs: a wire event_id is refused, references are bare strings.
  for (const id of ['3', '4', '10', '11', '12']) {
    expectReason({ ...valid(rv(id)), event_id: '$x' }, rv(id), 'unexpected_field', 'v3+ event_id');
    expectReason({ ...valid(rv(id)), prev_events: [['$p', {}]] }, rv(id), 'wrong_type', 'v3+ pair reference');
  }
  // v12: create events have no room_id; other events need a '!' room ID.
  const { room_id: _r, ...create }: JsonObject = { ...valid(rv('12')), type: 'm.room.create', state_key: '', prev_events: [], auth_events: [] };
  assert.ok(validatePduFormat(create, rv('12')).ok);
  expectReason({ ...create, room_id: '!x' }, rv('12'), 'unexpected_field', 'v12 create with room_id');
  expectReason({ ...valid(rv('12')), room_id: 'abc' }, rv('12'), 'bad_identifier', 'v12 room_id without !');
  expectReason(create, rv('11'), 'missing_field', 'v11 create without room_id');
});

test('reference count limits', () => {
  const v = rv('10');
  const many = (n: number) => Array.from({ length: n }, (_, i) => `$e${i}`);
  assert.ok(validatePduFormat({ ...valid(v), prev_events: many(20), auth_events: many(10) }, v).ok);
  expectReason({ ...valid(v), prev_events: many(21) }, v, 'too_many_references', '21 prev');
  expectReason({ ...valid(v), auth_events: many(11) }, v, 'too_many_references', '11 auth');
  assert.ok(validatePduFormat({ ...valid(v), prev_events: many(21) }, v, { checkReferenceLimits: false }).ok);
});

test('size limits: 65536 bytes of canonical JSON, 255-byte IDs', () => {
  const v = rv('10');
  const base = valid(v);
  const { unsigned: _u, ...signedPart } = base;
  const overhead = Buffer.byteLength(canonicalJson({ ...signedPart, content: { body: '' } }));
  const fits = { ...base, content: { body: 'a'.repeat(MAX_PDU_BYTES - overhead) } };
  assert.ok(validatePduFormat(fits, v).ok);
  expectReason({ ...fits, content: { body: 'a'.repeat(MAX_PDU_BYTES - overhead + 1) } }, v, 'too_large', 'one byte over');
  // Multi-byte characters count as bytes; unsigned is not counted.
  expectReason({ ...base, content: { body: 'é'.repeat(MAX_PDU_BYTES / 2) } }, v, 'too_large', 'two-byte chars');
  assert.ok(validatePduFormat({ ...fits, unsigned: { pad: 'x'.repeat(100000) } }, v).ok);

  for (const field of ['sender', 'room_id', 'type', 'state_key']) {
    assert.ok(validatePduFormat({ ...base, [field]: '@' + 'a'.repeat(252) + ':x' }, v).ok, `${field} at 255`);
    const long = expectReason({ ...base, [field]: 'a'.repeat(256) }, v, 'field_too_long', `${field} 256 chars`);
    assert.equal(long.rejectInsteadOfDrop, false);
    assert.equal(long.field, field);
    // 200 code points but 400 bytes: v1–10 historically allowed it (reject, don't drop), v11+ drop.
    const bytesOnly = { ...base, [field]: 'é'.repeat(200) };
    assert.equal(expectReason(bytesOnly, v, 'field_too_long', `${field} bytes`).rejectInsteadOfDrop, true);
    const v11 = { ...valid(rv('11')), [field]: 'é'.repeat(200) };
    assert.equal(expectReason(v11, rv('11'), 'field_too_long', `${field} bytes v11`).rejectInsteadOfDrop, false);
  }
  expectReason({ ...valid(rv('1')), event_id: '$' + 'a'.repeat(255) }, rv('1'), 'field_too_long', 'event_id');
});

test('canonical JSON strictness: v6+ strict, v1–5 tolerant', () => {
  for (const v of ROOM_VERSIONS.values()) {
    const big = { ...valid(v), content: { n: 2 ** 60 } };
    const float = { ...valid(v), content: { n: 0.5 } };
    const text = JSON.stringify(valid(v)).replace('"body":"hi"', '"body":"hi","f":1.0');
    const dup = JSON.stringify(valid(v)).replace('"body":"hi"', '"body":"hi","body":"ho"');
    if (v.strictCanonicalJson) {
      expectReason(big, v, 'not_canonical', 'big int');
      expectReason(float, v, 'not_canonical', 'float');
      const r = parsePdu(text, v);
      assert.equal(!r.ok && r.error.reason, 'not_canonical');
      const d = parsePdu(dup, v);
      assert.equal(!d.ok && d.error.reason, 'not_canonical');
    } else {
      assert.ok(validatePduFormat(big, v).ok, `v${v.id} big int`);
      assert.ok(validatePduFormat(float, v).ok, `v${v.id} float`);
      assert.ok(parsePdu(text, v).ok);
      assert.ok(parsePdu(dup, v).ok);
    }
    const nested = { ...valid(v), content: { a: { b: [NaN] } } };
    expectReason(nested, v, 'not_canonical', 'NaN');
  }
  const bad = parsePdu('{"type":', rv('10'));
  assert.equal(!bad.ok && bad.error.reason, 'invalid_json');
  const badUtf8 = parsePdu(new Uint8Array([0x7b, 0xff, 0x7d]), rv('10'));
  assert.equal(!badUtf8.ok && badUtf8.error.reason, 'invalid_json');
});

test('a malformed unsigned is discarded, not fatal', () => {
  const v = rv('10');
  const r = validatePduFormat({ ...valid(v), unsigned: 'junk' }, v);
  assert.ok(r.ok);
  assert.equal('unsigned' in r.pdu, false);
});

test('fuzz: random JSON and mutated PDUs never throw', () => {
  let seed = 1234;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const randomValue = (depth: number): unknown => {
    const r = rand();
    if (depth > 3 || r < 0.3) return pick([null, true, false, 0, -1, 2 ** 60, 1.5, NaN, '', 'x', '\uD800', 'é'.repeat(300)]);
    if (r < 0.6) return Array.from({ length: Math.floor(rand() * 4) }, () => randomValue(depth + 1));
    const o: Record<string, unknown> = {};
    for (let i = 0; i < rand() * 5; i++) o[pick(['type', 'content', 'sha256', 'x', '__proto__', 'room_id'])] = randomValue(depth + 1);
    return o;
  };
  const versions = [...ROOM_VERSIONS.values()];
  let accepted = 0;
  for (let i = 0; i < 4000; i++) {
    const v = pick(versions);
    let input: unknown;
    if (i % 2 === 0) {
      input = randomValue(0);
    } else {
      const ev = valid(v);
      const field = pick([...Object.keys(ev), 'state_key', 'event_id', 'redacts']);
      ev[field] = randomValue(1) as never;
      input = ev;
    }
    const r = validatePduFormat(input, v);
    if (r.ok) accepted++;
    else assert.ok(r.error instanceof EventFormatError);
    let text: string;
    try {
      text = JSON.stringify(input) ?? '';
    } catch {
      text = '';
    }
    // Also feed truncated text, which is almost never valid JSON.
    if (i % 3 === 0) text = text.slice(0, Math.floor(rand() * text.length));
    const p = parsePdu(text, v);
    if (!p.ok) assert.ok(p.error instanceof EventFormatError);
  }
  assert.ok(accepted > 50, `some mutations stay valid (${accepted})`);
});
