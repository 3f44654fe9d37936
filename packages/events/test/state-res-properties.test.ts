/** Property-based tests of state resolution over random, auth-checked room DAGs. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { StateMap } from '../src/types.ts';
import { splitStateKey } from '../src/types.ts';
import type { RoomVersion } from '../src/room-versions.ts';
import { resolveState } from '../src/state-res/index.ts';
import { separateV2 } from '../src/state-res/separate.ts';
import { EventGraph } from '../src/state-res/event-graph.ts';
import { authDifference, conflictedSubgraph } from '../src/state-res/auth-difference.ts';
import type { EventStore, Step } from './state-res-fixtures.ts';
import { V11_WITH_V21, randomRoom, rv, show } from './state-res-fixtures.ts';

const step: fc.Arbitrary<Step> = fc.record({
  tip: fc.nat(20),
  merge: fc.nat(20),
  action: fc.nat(20),
  user: fc.nat(20),
  arg: fc.nat(20),
});
const scenario = fc.record({
  steps: fc.array(step, { minLength: 3, maxLength: 40 }),
  picks: fc.array(fc.nat(1000), { minLength: 2, maxLength: 4 }),
  order: fc.array(fc.nat(1000), { minLength: 4, maxLength: 4 }),
});
const RUNS = 100;

function pickSets(states: StateMap[], picks: number[]): StateMap[] {
  return picks.map((p) => states[p % states.length]!);
}

/** Auth chains the slow, obvious way: everything reachable from the events, themselves included. */
function closure(store: EventStore, roots: Iterable<string>): Set<string> {
  const seen = new Set<string>();
  const stack = [...roots];
  while (stack.length > 0) {
    const e = stack.pop()!;
    if (seen.has(e)) continue;
    seen.add(e);
    stack.push(...(store.events.get(e)?.auth_events ?? []));
  }
  return seen;
}

for (const version of [rv('1'), rv('2'), rv('10'), V11_WITH_V21, rv('12')]) {
  describe(`state resolution properties, room version ${version.id}`, () => {
    const same = (a: StateMap, b: StateMap, what: string) => assert.deepEqual(show(a), show(b), what);

    it('is independent of the order and multiplicity of the state sets', () => {
      fc.assert(
        fc.property(scenario, ({ steps, picks, order }) => {
          const { store, states } = randomRoom(version, steps);
          const sets = pickSets(states, picks);
          const r = resolveState(version, sets, store.lookup);
          const shuffled = sets.map((s, i) => [order[i % order.length]! * 8 + i, s] as const).sort((a, b) => a[0] - b[0]);
          same(resolveState(version, shuffled.map(([, s]) => s), store.lookup), r, 'shuffled');
          same(resolveState(version, [...sets].reverse(), store.lookup), r, 'reversed');
          same(resolveState(version, [...sets, sets[0]!], store.lookup), r, 'with a duplicate');
        }),
        { numRuns: RUNS },
      );
    });

    it('is idempotent and leaves single or identical state sets unchanged', () => {
      fc.assert(
        fc.property(scenario, ({ steps, picks }) => {
          const { store, states } = randomRoom(version, steps);
          const sets = pickSets(states, picks);
          const r = resolveState(version, sets, store.lookup);
          same(resolveState(version, [r], store.lookup), r, 'resolve(resolve(x))');
          same(resolveState(version, [r, r], store.lookup), r, 'resolve([r, r])');
          same(resolveState(version, [sets[0]!], store.lookup), sets[0]!, 'single');
          same(resolveState(version, [sets[0]!, sets[0]!, sets[0]!], store.lookup), sets[0]!, 'identical');
        }),
        { numRuns: RUNS },
      );
    });

    it('keeps what all state sets agree on and maps every key to an event of that key', () => {
      fc.assert(
        fc.property(scenario, ({ steps, picks }) => {
          const { store, states } = randomRoom(version, steps);
          const sets = pickSets(states, picks);
          const r = resolveState(version, sets, store.lookup);
          for (const [key, eventId] of sets[0]!) {
            if (sets.every((s) => s.get(key) === eventId)) assert.equal(r.get(key), eventId, 'unconflicted entry kept');
          }
          for (const [key, eventId] of r) {
            const ev = store.events.get(eventId)!;
            assert.deepEqual([ev.type, ev.state_key], splitStateKey(key));
          }
        }),
        { numRuns: RUNS },
      );
    });

    if (version.stateRes !== 'v1') {
      it('computes the auth difference and conflicted subgraph like the definitions', () => {
        fc.assert(
          fc.property(scenario, ({ steps, picks }) => {
            const { store, states } = randomRoom(version, steps);
            const sets = pickSets(states, picks);
            const { unconflicted, conflicted } = separateV2(sets);
            const g = new EventGraph(store.lookup, version.roomIdFromCreateEvent);
            const perSet = sets.map((s) => [...conflicted.keys()].flatMap((k) => (s.has(k) ? [g.node(s.get(k)!)] : [])));
            const fast = authDifference(g, [...unconflicted.values()].map((e) => g.node(e)), perSet).map((n) => g.ids[n]!);

            const chains = sets.map((s) => closure(store, s.values()));
            const union = new Set(chains.flatMap((c) => [...c]));
            const naive = [...union].filter((e) => !chains.every((c) => c.has(e)));
            assert.deepEqual(fast.sort(), naive.sort(), 'auth difference');

            const conflictedIds = [...new Set([...conflicted.values()].flat())];
            const subgraph = conflictedSubgraph(g, conflictedIds.map((e) => g.node(e))).map((n) => g.ids[n]!);
            const reachable = closure(store, conflictedIds);
            const naiveSubgraph = [...reachable].filter((e) => [...closure(store, [e])].some((a) => conflictedIds.includes(a)));
            assert.deepEqual(subgraph.sort(), naiveSubgraph.sort(), 'conflicted subgraph');
          }),
          { numRuns: RUNS },
        );
      });
    }
  });
}

describe('random rooms', () => {
  it('actually fork, merge and conflict', () => {
    // Guards the generator: the properties above are vacuous if rooms never conflict.
    let conflicts = 0;
    fc.assert(
      fc.property(scenario, ({ steps, picks }) => {
        const { states } = randomRoom(rv('10') as RoomVersion, steps);
        if (separateV2(pickSets(states, picks)).conflicted.size > 0) conflicts++;
      }),
      { numRuns: 100, seed: 42 },
    );
    assert.ok(conflicts > 50, `only ${conflicts}/100 samples had conflicts`);
  });
});
