import test from 'node:test';
import assert from 'node:assert/strict';
import { allowsEvent, allowsRoom, applyEventFilter, compileFilter, globToLike, projectFields, typeMatches } from '../src/filter.ts';
import { LazyMembersCache } from '../src/lazy-members.ts';

test('compileFilter: defaults, limits capped by the server, lazy-loading from the state filter', () => {
  const d = compileFilter({});
  assert.equal(d.timelineLimit, 10);
  assert.equal(d.eventFormat, 'client');
  assert.equal(d.room.includeLeave, false);
  assert.equal(compileFilter({ room: { timeline: { limit: 500 } } }).timelineLimit, 100);
  assert.equal(compileFilter({ room: { timeline: { limit: 500 } } }, -1).timelineLimit, 500);
  assert.equal(compileFilter({ room: { timeline: { limit: 7 } } }, 5).timelineLimit, 5);
  const f = compileFilter({ room: { state: { lazy_load_members: true, include_redundant_members: true }, include_leave: true }, event_format: 'federation' });
  assert.equal(f.room.state.lazyLoadMembers, true);
  assert.equal(f.room.state.includeRedundantMembers, true);
  assert.equal(f.room.timeline.lazyLoadMembers, false);
  assert.equal(f.room.includeLeave, true);
  assert.equal(f.eventFormat, 'federation');
});

test('type patterns: * matches any run of characters, anywhere', () => {
  assert.equal(typeMatches('m.room.*', 'm.room.message'), true);
  assert.equal(typeMatches('m.room.*', 'm.roomy'), false);
  assert.equal(typeMatches('*.message', 'm.room.message'), true);
  assert.equal(typeMatches('m.*.name', 'm.room.name'), true);
  assert.equal(typeMatches('m.room.name', 'm.room.names'), false);
  assert.equal(typeMatches('*', 'anything'), true);
  assert.equal(typeMatches('a.b', 'aXb'), false, 'dots are literal');
  assert.equal(globToLike('m.room_x%*'), 'm.room\\_x\\%%');
});

test('event filters: not_* wins, an empty list matches nothing, senders, contains_url, limit', () => {
  const f = compileFilter({ presence: { types: ['m.*'], not_types: ['m.secret'], not_senders: ['@x:s'], limit: 2 } }).presence;
  assert.equal(allowsEvent(f, { type: 'm.presence', sender: '@a:s' }), true);
  assert.equal(allowsEvent(f, { type: 'm.secret', sender: '@a:s' }), false);
  assert.equal(allowsEvent(f, { type: 'org.other', sender: '@a:s' }), false);
  assert.equal(allowsEvent(f, { type: 'm.presence', sender: '@x:s' }), false);
  const events = [1, 2, 3].map((n) => ({ type: 'm.presence', sender: `@u${n}:s` }));
  assert.deepEqual(applyEventFilter(f, events, (e) => e).length, 2);
  const none = compileFilter({ account_data: { types: [] } }).accountData;
  assert.equal(allowsEvent(none, { type: 'anything' }), false);
  const senders = compileFilter({ presence: { senders: ['@a:s'] } }).presence;
  assert.equal(allowsEvent(senders, { type: 't' }), false, 'no sender, senders required');
  const url = compileFilter({ room: { timeline: { contains_url: true } } }).room.timeline;
  assert.equal(allowsEvent(url, { type: 't', containsUrl: true }), true);
  assert.equal(allowsEvent(url, { type: 't', containsUrl: false }), false);
  const rooms = compileFilter({ room: { rooms: ['!a:s', '!b:s'], not_rooms: ['!b:s'] } }).room;
  assert.equal(allowsRoom(rooms, '!a:s'), true);
  assert.equal(allowsRoom(rooms, '!b:s'), false);
  assert.equal(allowsRoom(rooms, '!c:s'), false);
});

test('event_fields keeps only the listed paths, with \\. escaping a dot in a key', () => {
  const ev = { type: 't', content: { body: 'b', 'm.relates_to': { rel_type: 'r' }, other: 1 }, unsigned: { age: 1 }, sender: '@a:s' };
  assert.deepEqual(projectFields(ev, ['type', 'content.body']), { type: 't', content: { body: 'b' } });
  assert.deepEqual(projectFields(ev, ['content.m\\.relates_to.rel_type']), { content: { 'm.relates_to': { rel_type: 'r' } } });
  assert.deepEqual(projectFields(ev, ['content.nothing.here', 'missing']), {});
  assert.equal(projectFields(ev, []), ev);
  assert.equal(projectFields(ev, undefined), ev);
});

test('LazyMembersCache: per device and room, reset, bounded', () => {
  const c = new LazyMembersCache({ maxDevices: 2, maxEntriesPerDevice: 2 });
  c.record('@a:s', 'D1', [['!r:s', '@b:s', '$1']]);
  assert.equal(c.has('@a:s', 'D1', '!r:s', '@b:s', '$1'), true);
  assert.equal(c.has('@a:s', 'D1', '!r:s', '@b:s', '$2'), false, 'a newer member event is not redundant');
  assert.equal(c.has('@a:s', 'D2', '!r:s', '@b:s', '$1'), false, 'other devices have their own memory');
  assert.equal(c.has('@a:s', 'D1', '!other:s', '@b:s', '$1'), false);
  c.record('@a:s', 'D1', [['!r:s', '@c:s', '$3'], ['!r:s', '@d:s', '$4']]);
  assert.equal(c.has('@a:s', 'D1', '!r:s', '@b:s', '$1'), false, 'oldest entry dropped');
  c.record('@x:s', 'X', [['!r:s', '@b:s', '$1']]);
  c.record('@y:s', 'Y', [['!r:s', '@b:s', '$1']]);
  assert.equal(c.deviceCount, 2);
  assert.equal(c.has('@a:s', 'D1', '!r:s', '@d:s', '$4'), false, 'least recently used device forgotten');
  c.reset('@x:s', 'X');
  assert.equal(c.has('@x:s', 'X', '!r:s', '@b:s', '$1'), false);
});
