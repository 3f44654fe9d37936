import type { StateMap } from '../types.ts';
import type { RoomVersion } from '../room-versions.ts';
import type { EventLookup } from './event-graph.ts';
import type { StateResOptions, StateResResult } from './result.ts';
import { resolveV1 } from './v1.ts';
import { resolveV2 } from './v2.ts';

/**
 * Resolves state sets into one, with the room version's algorithm, and reports the events the
 * lookup could not supply (they are ignored). Pure, synchronous, and independent of the order
 * of the state sets.
 */
export function resolveStateDetailed(
  rv: RoomVersion,
  stateSets: readonly StateMap[],
  events: EventLookup,
  options: StateResOptions = {},
): StateResResult {
  return rv.stateRes === 'v1' ? resolveV1(rv, stateSets, events) : resolveV2(rv, stateSets, events, options);
}

/**
 * Resolve state sets into one. All events referenced (state sets and their auth chains) should
 * be available through `events`; missing ones are ignored (see `resolveStateDetailed`).
 */
export function resolveState(
  rv: RoomVersion,
  stateSets: readonly StateMap[],
  events: EventLookup,
  options?: StateResOptions,
): StateMap {
  return resolveStateDetailed(rv, stateSets, events, options).state;
}
