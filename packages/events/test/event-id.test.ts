import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeBase64 } from '@hs/core';
import {
  computeEventId,
  createEventIdFromRoomId,
  eventReference,
  eventRoomId,
  EventIdError,
  referenceEventId,
  roomIdFromCreateEventId,
  toEventView,
} from '../src/event-id.ts';
import { checkContentHash, contentHash, referenceHash, sha256 } from '../src/hashes.ts';
import { getRoomVersion } from '../src/room-versions.ts';
import type { RoomVersion } from '../src/room-versions.ts';
import type { PDU } from '../src/types.ts';

const rv = (id: string): RoomVersion => getRoomVersion(id)!;

/** The spec's signed minimal event (appendices › Event Signing); IDs checked against Synapse. */
const SIGNED_MINIMAL = {
  auth_events: [],
  content: {},
  depth: 3,
  hashes: { sha256: '5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos' },
  origin: 'domain',
  origin_server_ts: 1000000,
  prev_events: [],
  room_id: '!x:domain',
  sender: '@a:domain',
  signatures: {
    domain: { 'ed25519:1': 'KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg' },
  },
  type: 'X',
  unsigned: { age_ts: 1000000 },
} as unknown as PDU;

test('content hash of the spec vector', () => {
  assert.equal(contentHash(SIGNED_MINIMAL, rv('1')), '5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos');
  assert.equal(checkContentHash(SIGNED_MINIMAL, rv('10')), true);
  assert.equal(checkContentHash({ ...SIGNED_MINIMAL, depth: 4 }, rv('10')), false);
  // unsigned and signatures are outside the hash.
  assert.equal(checkContentHash({ ...SIGNED_MINIMAL, unsigned: { x: 1 }, signatures: {} }, rv('10')), true);
  assert.equal(checkContentHash({ ...SIGNED_MINIMAL, hashes: { sha256: 'nope!' } } as never, rv('10')), false);
  assert.equal(checkContentHash({ ...SIGNED_MINIMAL, hashes: { sha256: 'AAAA' } } as never, rv('10')), false);
  assert.equal(checkContentHash({ ...SIGNED_MINIMAL, hashes: undefined } as never, rv('10')), false);
  assert.equal(checkContentHash({ ...SIGNED_MINIMAL, x: 0.5 } as never, rv('10')), false);
});

test('event IDs per format (values from Synapse)', () => {
  assert.equal(computeEventId(SIGNED_MINIMAL, rv('3')), '$8yif6p8EqgoSten2BLje9ntKm720NyFLWQv9tn8memc');
  assert.equal(computeEventId(SIGNED_MINIMAL, rv('10')), '$8yif6p8EqgoSten2BLje9ntKm720NyFLWQv9tn8memc');
  // v11 no longer protects `origin`, so the reference hash changes.
  assert.equal(computeEventId(SIGNED_MINIMAL, rv('11')), '$70O_oKlXzFbkfu0KE88USi98DjSWrOELrPj-8tisl8I');
  const msg = {
    auth_events: [],
    content: { body: 'x' },
    depth: 13,
    hashes: { sha256: 'abc' },
    origin_server_ts: 1000000,
    prev_events: [],
    room_id: '!x:domain',
    sender: '@a:domain',
    signatures: {},
    type: 'm.room.message',
  } as unknown as PDU;
  assert.equal(computeEventId(msg, rv('3')), '$Pj15NDZb4g4WJ+xuTJIdWk5ydSEOBRjDD3BZLMMn3/8');
  assert.equal(computeEventId(msg, rv('4')), '$Pj15NDZb4g4WJ-xuTJIdWk5ydSEOBRjDD3BZLMMn3_8');
  // The ID covers only the redacted event: content and signatures do not matter.
  assert.equal(computeEventId({ ...msg, content: { body: 'y' }, signatures: { a: {} } }, rv('4')), computeEventId(msg, rv('4')));
  assert.equal(encodeBase64(referenceHash(msg, rv('3'))), 'Pj15NDZb4g4WJ+xuTJIdWk5ydSEOBRjDD3BZLMMn3/8');
  // v1–2 carry the ID.
  assert.equal(computeEventId({ ...msg, event_id: '$abc:domain' }, rv('1')), '$abc:domain');
  assert.throws(() => computeEventId(msg, rv('2')), EventIdError);
});

test('room v12 room IDs come from the create event', () => {
  const create = {
    auth_events: [],
    content: { room_version: '12' },
    depth: 1,
    hashes: { sha256: 'abc' },
    origin_server_ts: 1000000,
    prev_events: [],
    sender: '@a:domain',
    signatures: {},
    type: 'm.room.create',
    state_key: '',
  } as unknown as PDU;
  assert.equal(computeEventId(create, rv('12')), '$Peb6jqBYLNdyaT0lXdvyjCpnvZauVDBvGH_8-ybEFXA');
  assert.equal(eventRoomId(create, rv('12')), '!Peb6jqBYLNdyaT0lXdvyjCpnvZauVDBvGH_8-ybEFXA');
  assert.equal(roomIdFromCreateEventId('$abc'), '!abc');
  assert.equal(createEventIdFromRoomId('!abc'), '$abc');
  const view = toEventView(create, rv('12'));
  assert.equal(view.room_id, '!Peb6jqBYLNdyaT0lXdvyjCpnvZauVDBvGH_8-ybEFXA');
  assert.equal(view.state_key, '');
  // Pre-v12 create events name their room themselves.
  assert.equal(eventRoomId({ ...create, room_id: '!r:x' }, rv('11')), '!r:x');
});

test('toEventView normalises references and redacts', () => {
  const v1 = {
    event_id: '$r:x',
    room_id: '!r:x',
    type: 'm.room.redaction',
    sender: '@u:x',
    content: { reason: 'spam', redacts: '$ignored:x' },
    redacts: '$t:x',
    origin_server_ts: 9,
    depth: 2,
    prev_events: [['$p:x', { sha256: 'a' }]],
    auth_events: [['$a:x', { sha256: 'b' }], ['$b:x', {}]],
    hashes: { sha256: 'x' },
    signatures: {},
  } as unknown as PDU;
  const view = toEventView(v1, rv('1'));
  assert.deepEqual(view, {
    event_id: '$r:x',
    room_id: '!r:x',
    type: 'm.room.redaction',
    sender: '@u:x',
    content: { reason: 'spam', redacts: '$ignored:x' },
    origin_server_ts: 9,
    depth: 2,
    prev_events: ['$p:x'],
    auth_events: ['$a:x', '$b:x'],
    redacts: '$t:x',
  });
  const { event_id: _e, ...v11 } = { ...v1, prev_events: ['$p'], auth_events: ['$a'] };
  const view11 = toEventView(v11 as PDU, rv('11'));
  assert.equal(view11.redacts, '$ignored:x');
  assert.equal(view11.event_id, computeEventId(v11, rv('11')));
  assert.equal(toEventView(v11 as PDU, rv('11'), '$given').event_id, '$given');
  assert.equal('state_key' in view11, false);
  assert.equal(referenceEventId(['$x', {}]), '$x');
  assert.equal(referenceEventId('$y'), '$y');
});

test('eventReference carries the reference hash in v1–2', () => {
  const ev = { ...SIGNED_MINIMAL, event_id: '$m:domain' } as PDU;
  const ref = eventReference(ev, rv('1'));
  assert.deepEqual(ref, ['$m:domain', { sha256: encodeBase64(referenceHash(ev, rv('1'))) }]);
  assert.equal(eventReference(SIGNED_MINIMAL, rv('4')), '$8yif6p8EqgoSten2BLje9ntKm720NyFLWQv9tn8memc');
  assert.equal(encodeBase64(sha256('')), '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU');
});

test('room v1–5 hashes tolerate out-of-range numbers; v6+ refuse them', () => {
  const ev = { ...SIGNED_MINIMAL, content: { big: 2 ** 60, f: 0.5 } } as PDU;
  assert.match(contentHash(ev, rv('5')), /^[A-Za-z0-9+/]{43}$/);
  assert.throws(() => contentHash(ev, rv('6')));
  assert.equal(checkContentHash(ev, rv('6')), false);
});
