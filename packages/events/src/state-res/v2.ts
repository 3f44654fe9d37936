import type { StateMap } from '../types.ts';
import { stateKey } from '../types.ts';
import type { RoomVersion } from '../room-versions.ts';
import type { EventLookup } from './event-graph.ts';
import { EventGraph } from './event-graph.ts';
import { separateV2 } from './separate.ts';
import { authDifference, conflictedSubgraph } from './auth-difference.ts';
import { reverseTopologicalPowerOrder } from './power-order.ts';
import { iterativeAuthChecks, LayeredState } from './iterative-auth.ts';
import { mainlineOrder } from './mainline.ts';
import type { StateResOptions, StateResResult } from './result.ts';

const POWER_LEVELS = stateKey('m.room.power_levels', '');

/**
 * State resolution v2 (rooms v2–11) and its room v12 revision ("v2.1"), which adds the
 * conflicted state subgraph to the full conflicted set and starts the power-event pass from
 * an empty state map instead of the unconflicted state.
 */
export function resolveV2(
  rv: RoomVersion,
  stateSets: readonly StateMap[],
  lookup: EventLookup,
  options: StateResOptions,
): StateResResult {
  const { unconflicted, conflicted } = separateV2(stateSets);
  if (conflicted.size === 0) return { state: unconflicted, missing: [] };
  const v21 = rv.stateRes === 'v2.1';
  const g = new EventGraph(lookup, rv.roomIdFromCreateEvent);

  const conflictedNodes = new Set<number>();
  for (const ids of conflicted.values()) for (const id of ids) conflictedNodes.add(g.node(id));

  let difference: Iterable<number>;
  if (options.authDifference !== undefined) {
    difference = Array.from(options.authDifference, (id) => g.node(id));
  } else {
    const perSet = stateSets.map((s) => {
      const nodes: number[] = [];
      for (const key of conflicted.keys()) {
        const id = s.get(key);
        if (id !== undefined) nodes.push(g.node(id));
      }
      return nodes;
    });
    const common = Array.from(unconflicted.values(), (id) => g.node(id));
    difference = authDifference(g, common, perSet);
  }

  const fullSet = new Set(conflictedNodes);
  for (const n of difference) fullSet.add(n);
  if (v21) for (const n of conflictedSubgraph(g, [...conflictedNodes])) fullSet.add(n);
  // Events the lookup cannot supply are ignored, as Synapse does.
  const full = [...fullSet].filter((n) => g.event(n) !== undefined);
  for (const n of full) g.authOf(n);
  const inFull = new Uint8Array(g.size);
  for (const n of full) inFull[n] = 1;

  const powerOrder = reverseTopologicalPowerOrder(rv, g, full, inFull);
  const partial = new LayeredState(v21 ? undefined : unconflicted);
  iterativeAuthChecks(rv, g, powerOrder, partial);

  const inPowerOrder = new Uint8Array(g.size);
  for (const n of powerOrder) inPowerOrder[n] = 1;
  const rest = full.filter((n) => inPowerOrder[n] !== 1);
  const pl = partial.get(POWER_LEVELS);
  iterativeAuthChecks(rv, g, mainlineOrder(g, rest, pl === undefined ? undefined : g.node(pl)), partial);

  const state = new Map(partial.changes);
  for (const [key, id] of unconflicted) state.set(key, id);
  return { state, missing: g.missing() };
}
