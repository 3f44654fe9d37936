/**
 * Room v12's state resolution (MSC4297): the conflicted state subgraph joins the full
 * conflicted set, and the power-event pass starts from an empty state map. The scenarios are
 * the two state resets MSC4297 fixes; each runs under v11 with plain v2 (showing the reset),
 * under v11 with the v12 algorithm, and under v12 itself.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { JsonObject } from '@hs/core';
import type { EventView, StateMap } from '../src/types.ts';
import type { RoomVersion } from '../src/room-versions.ts';
import { resolveState } from '../src/state-res/index.ts';
import { EventGraph } from '../src/state-res/event-graph.ts';
import { authDifference, conflictedSubgraph } from '../src/state-res/auth-difference.ts';
import { ALICE, BOB, CHARLIE, EVELYN, EventStore, JR, MEMBER, PL, V11_WITH_V21, ZARA, id, plContent, roomIdFor, rv, show, stateOf } from './state-res-fixtures.ts';

/** Hand-wired events with explicit auth events (the create event is added where the version lists it). */
class Timeline {
  readonly store = new EventStore();
  private ts = 0;
  readonly version: RoomVersion;
  constructor(version: RoomVersion) {
    this.version = version;
  }
  add(name: string, type: string, sender: string, key: string, content: JsonObject, auth: EventView[]): EventView {
    const v = this.version;
    const authIds = auth.map((e) => e.event_id);
    if (type !== 'm.room.create' && !v.roomIdFromCreateEvent) authIds.unshift(id('CREATE'));
    return this.store.add({
      event_id: id(name),
      room_id: roomIdFor(v),
      type,
      state_key: key,
      sender,
      content,
      origin_server_ts: ++this.ts,
      depth: this.ts,
      auth_events: authIds,
      prev_events: [],
    });
  }
  create(): EventView {
    return this.add('CREATE', 'm.room.create', ALICE, '', this.version.implicitRoomCreator ? {} : { creator: ALICE }, []);
  }
}

const resolve = (v: RoomVersion, sets: StateMap[], t: Timeline) => show(resolveState(v, sets, t.store.lookup));

/** Join rules in conflict, their sender's membership unconflicted and since left. */
function joinRulesReset(v: RoomVersion) {
  const t = new Timeline(v);
  const create = t.create();
  const ma1 = t.add('MA1', MEMBER, ALICE, ALICE, { membership: 'join' }, []);
  const power = t.add('POWER', PL, ALICE, '', plContent(v, { [ALICE]: 100, [BOB]: 100 }), [ma1]);
  const jr1 = t.add('JR1', JR, ALICE, '', { join_rule: 'public' }, [ma1, power]);
  const mb = t.add('MB', MEMBER, BOB, BOB, { membership: 'join' }, [power, jr1]);
  const jr2 = t.add('JR2', JR, ALICE, '', { join_rule: 'invite' }, [ma1, power]);
  const ma2 = t.add('MA2', MEMBER, ALICE, ALICE, { membership: 'leave' }, [power, ma1]);
  const correct = stateOf(create, ma2, mb, power, jr2);
  // Another server hands us a fork that still cites the old join rules.
  const incorrect = stateOf(create, ma2, mb, power, jr1);
  return { t, sets: [correct, incorrect], correct };
}

/** Eve's rename cites old power levels directly but the newest ones through her previous join. */
function subgraphReplay(v: RoomVersion) {
  const t = new Timeline(v);
  const create = t.create();
  const ma = t.add('MA', MEMBER, ALICE, ALICE, { membership: 'join' }, []);
  const p1 = t.add('P1', PL, ALICE, '', plContent(v, { [ALICE]: 100 }), [ma]);
  const jr = t.add('JR', JR, ALICE, '', { join_rule: 'public' }, [ma, p1]);
  const mb = t.add('MB', MEMBER, BOB, BOB, { membership: 'join' }, [p1, jr]);
  const mc = t.add('MC', MEMBER, CHARLIE, CHARLIE, { membership: 'join' }, [p1, jr]);
  const p2 = t.add('P2', PL, ALICE, '', plContent(v, { [ALICE]: 100, [BOB]: 50 }), [ma, p1]);
  const p3 = t.add('P3', PL, BOB, '', plContent(v, { [ALICE]: 100, [BOB]: 50, [CHARLIE]: 50 }), [mb, p2]);
  const me1 = t.add('ME1', MEMBER, EVELYN, EVELYN, { membership: 'join' }, [p3, jr]);
  const me2 = t.add('ME2', MEMBER, EVELYN, EVELYN, { membership: 'join', displayname: 'eve' }, [p1, jr, me1]);
  const mz = t.add('MZ', MEMBER, ZARA, ZARA, { membership: 'join' }, [p3, jr]);
  const dodgy = stateOf(create, ma, mb, mc, me2, p1, jr);
  const sensible = stateOf(create, ma, mb, mc, mz, p3, jr);
  return { t, sets: [dodgy, sensible], ev: { create, ma, mb, mc, me1, me2, mz, p1, p2, p3, jr } };
}

describe('room v12 state resolution', () => {
  it('plain v2 resets join rules when their sender has since left; v12 keeps the newest', () => {
    const v11 = joinRulesReset(rv('11'));
    const reset = resolve(rv('11'), v11.sets, v11.t);
    assert.equal(reset[`${JR}|`], undefined, 'v2 replays both join rules against Alice’s leave');

    for (const v of [V11_WITH_V21, rv('12')]) {
      const { t, sets, correct } = joinRulesReset(v);
      assert.deepEqual(resolve(v, sets, t), show(correct), v.id);
    }
  });

  it('replays the conflicted state subgraph: no reset to old power levels', () => {
    const old = subgraphReplay(rv('11'));
    const v2 = resolve(rv('11'), old.sets, old.t);
    assert.equal(v2[`${PL}|`], old.ev.p1.event_id, 'v2 resets power levels to P1');
    assert.equal(v2[`${MEMBER}|${EVELYN}`], old.ev.me2.event_id);

    for (const v of [V11_WITH_V21, rv('12')]) {
      const { t, sets, ev } = subgraphReplay(v);
      const expected = stateOf(ev.create, ev.ma, ev.mb, ev.mc, ev.me1, ev.mz, ev.p3, ev.jr);
      assert.deepEqual(resolve(v, sets, t), show(expected), v.id);
    }
  });

  it('computes the conflicted state subgraph and the auth difference', () => {
    const { t, sets, ev } = subgraphReplay(rv('12'));
    const g = new EventGraph(t.store.lookup, true);
    const conflicted = [ev.me2, ev.p1, ev.p3, ev.mz].map((e) => g.node(e.event_id));
    const subgraph = new Set(conflictedSubgraph(g, conflicted).map((n) => g.ids[n]));
    // On some path between conflicted events: P3 → P2 → P1, P3 → MB → P1, ME2 → JR → P1, ME2 → ME1 → P3.
    const expected = [ev.me2, ev.p1, ev.p3, ev.mz, ev.p2, ev.mb, ev.jr, ev.me1].map((e) => e.event_id);
    assert.deepEqual([...subgraph].sort(), expected.sort());
    assert.ok(!subgraph.has(ev.create.event_id) && !subgraph.has(ev.ma.event_id) && !subgraph.has(ev.mc.event_id));

    const keys = [...new Set(sets.flatMap((s) => [...s.keys()]))].filter((k) => sets[0]!.get(k) !== sets[1]!.get(k));
    const common = [...sets[0]!].filter(([k]) => !keys.includes(k)).map(([, v]) => g.node(v));
    const perSet = sets.map((s) => keys.flatMap((k) => (s.has(k) ? [g.node(s.get(k)!)] : [])));
    const diff = authDifference(g, common, perSet).map((n) => g.ids[n]);
    // ME2 reaches ME1 (and through it P3, P2) only on the dodgy side; MZ only on the other;
    // P3 and P2 are in both full auth chains.
    assert.deepEqual(diff.sort(), [ev.me1, ev.me2, ev.mz].map((e) => e.event_id).sort());
  });

  it('uses a supplied auth difference instead of walking auth chains', () => {
    const { t, sets, ev } = subgraphReplay(rv('12'));
    const expected = stateOf(ev.create, ev.ma, ev.mb, ev.mc, ev.me1, ev.mz, ev.p3, ev.jr);
    const supplied = [ev.me1, ev.me2, ev.mz].map((e) => e.event_id);
    assert.deepEqual(show(resolveState(rv('12'), sets, t.store.lookup, { authDifference: supplied })), show(expected));
  });
});
