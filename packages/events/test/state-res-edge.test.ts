/** State resolution with rejected, unauthorised, missing and malformed events. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { EventView, StateMap } from '../src/types.ts';
import { stateKey } from '../src/types.ts';
import type { RoomVersion } from '../src/room-versions.ts';
import { resolveState, resolveStateDetailed } from '../src/state-res/index.ts';
import { ALICE, CHARLIE, PL, TOPIC, V11_WITH_V21, buildDag, roomIdFor, rv, show } from './state-res-fixtures.ts';

/** The initial scenario room (up to START) plus a helper to add hand-made state events on top. */
function room(version: RoomVersion) {
  const dag = buildDag(version, [], []);
  const start = dag.stateAt.get('START')!;
  const authFor = (sender: string) =>
    [stateKey(PL, ''), stateKey('m.room.member', sender), ...(version.roomIdFromCreateEvent ? [] : [stateKey('m.room.create', '')])].map(
      (k) => start.get(k)!,
    );
  let ts = 100;
  const add = (eventId: string, type: string, sender: string, extra: Partial<EventView> = {}): EventView =>
    dag.store.add({
      event_id: eventId,
      room_id: roomIdFor(version),
      type,
      state_key: '',
      sender,
      content: { topic: eventId },
      origin_server_ts: ts++,
      depth: 20,
      auth_events: authFor(sender),
      prev_events: [],
      ...extra,
    });
  const withState = (...entries: [string, string][]): StateMap => {
    const s = new Map(start);
    for (const [type, eventId] of entries) s.set(stateKey(type, ''), eventId);
    return s;
  };
  return { dag, start, add, withState, lookup: dag.store.lookup };
}

const topicOf = (s: StateMap) => s.get(stateKey(TOPIC, ''));

for (const version of [rv('1'), rv('2'), rv('11'), V11_WITH_V21, rv('12')]) {
  describe(`state resolution edge cases, room version ${version.id}`, () => {
    it('resolves no state sets to empty state and one state set to itself', () => {
      const r = room(version);
      assert.equal(resolveState(version, [], r.lookup).size, 0);
      assert.deepEqual(show(resolveState(version, [r.start], r.lookup)), show(r.start));
    });

    it('does not admit an event the auth rules deny', () => {
      const r = room(version);
      r.add('$ok', TOPIC, ALICE);
      r.add('$bad', TOPIC, CHARLIE); // Charlie has level 0; topics need 50
      assert.equal(topicOf(resolveState(version, [r.withState([TOPIC, '$ok']), r.withState([TOPIC, '$bad'])], r.lookup)), '$ok');
      if (version.stateRes !== 'v1') {
        // v1 has no conflict here (the key is only in one set), so it keeps the union.
        assert.equal(topicOf(resolveState(version, [r.start, r.withState([TOPIC, '$bad'])], r.lookup)), undefined);
      }
    });

    {
      it('does not admit an event already marked rejected', () => {
        const r = room(version);
        r.add('$ok', TOPIC, ALICE, { origin_server_ts: 200 });
        r.add('$rejected', TOPIC, ALICE, { rejected: true, origin_server_ts: 300 });
        const sets = [r.withState([TOPIC, '$ok']), r.withState([TOPIC, '$rejected'])];
        assert.equal(topicOf(resolveState(version, sets, r.lookup)), '$ok');
        if (version.stateRes !== 'v1') {
          // (v1 sees no conflict when only one set holds the key, and keeps the union.)
          assert.equal(topicOf(resolveState(version, [r.start, r.withState([TOPIC, '$rejected'])], r.lookup)), undefined);
        }
      });
    }

    it('ignores conflicted events the lookup cannot supply, and reports them', () => {
      const r = room(version);
      r.add('$ok', TOPIC, ALICE);
      const result = resolveStateDetailed(version, [r.withState([TOPIC, '$ok']), r.withState([TOPIC, '$ghost'])], r.lookup);
      assert.equal(topicOf(result.state), '$ok');
      assert.deepEqual(result.missing, ['$ghost']);
      const gone = resolveStateDetailed(version, [r.withState([TOPIC, '$ghost1']), r.withState([TOPIC, '$ghost2'])], r.lookup);
      assert.equal(topicOf(gone.state), undefined);
      assert.deepEqual(gone.missing, ['$ghost1', '$ghost2']);
    });

    it('keeps unconflicted entries even when their events are missing', () => {
      const r = room(version);
      r.add('$ok', TOPIC, ALICE);
      const name = stateKey('m.room.name', '');
      const a = new Map(r.withState([TOPIC, '$ok'])).set(name, '$ghostname');
      const b = new Map(r.start).set(name, '$ghostname');
      assert.equal(resolveState(version, [a, b], r.lookup).get(name), '$ghostname');
    });

    it('copes with missing auth events', () => {
      const r = room(version);
      const orphan = r.add('$orphan', TOPIC, ALICE);
      r.dag.store.add({ ...orphan, auth_events: [...orphan.auth_events, '$nowhere'] });
      const result = resolveStateDetailed(version, [r.start, r.withState([TOPIC, '$orphan'])], r.lookup);
      assert.equal(topicOf(result.state), '$orphan');
      // v1 never walks auth chains, so it never looks the missing event up.
      assert.deepEqual(result.missing, version.stateRes === 'v1' ? [] : ['$nowhere']);
    });

    it('terminates on a cyclic auth graph', () => {
      const r = room(version);
      const pl = r.start.get(stateKey(PL, ''))!;
      const a = r.add('$cycA', PL, ALICE, { content: r.lookup(pl)!.content });
      const b = r.add('$cycB', PL, ALICE, { content: r.lookup(pl)!.content });
      r.dag.store.add({ ...a, auth_events: [...a.auth_events, '$cycB'] });
      r.dag.store.add({ ...b, auth_events: [...b.auth_events, '$cycA'] });
      const resolved = resolveState(version, [r.withState([PL, '$cycA']), r.withState([PL, '$cycB'])], r.lookup);
      assert.ok(resolved.has(stateKey(PL, '')));
    });
  });
}
