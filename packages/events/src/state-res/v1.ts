import { createHash } from 'node:crypto';
import type { EventView, StateKey, StateMap } from '../types.ts';
import { splitStateKey, stateKey } from '../types.ts';
import type { RoomVersion } from '../room-versions.ts';
import type { AuthStateLookup } from '../auth-rules.ts';
import { checkAuthRules } from '../auth-rules.ts';
import type { EventLookup } from './event-graph.ts';
import { separateV1 } from './separate.ts';
import type { StateResResult } from './result.ts';

const POWER_LEVELS = stateKey('m.room.power_levels', '');

/**
 * State resolution v1 (room v1 only; known to reset state, kept for compatibility).
 * R starts as the union of the state sets without conflicted keys. Conflicts are settled in
 * passes — power levels, then join rules, then memberships — each one ordering a key's
 * candidates by ascending depth and descending sha1(event_id), and then taking successive
 * candidates while the auth rules allow them against R. Every other conflict takes the first
 * candidate, by descending depth and ascending sha1, that R authorises. As in Synapse, each
 * pass sees R as it was when the pass began, so the result does not depend on key order, and
 * when no candidate of an ordinary key passes, the lowest one is kept.
 */
export function resolveV1(rv: RoomVersion, stateSets: readonly StateMap[], lookup: EventLookup): StateResResult {
  const { unconflicted, conflicted } = separateV1(stateSets);
  if (conflicted.size === 0) return { state: unconflicted, missing: [] };

  const missing = new Set<string>();
  const cache = new Map<string, EventView | undefined>();
  const get = (id: string): EventView | undefined => {
    if (cache.has(id)) return cache.get(id);
    const ev = lookup(id);
    cache.set(id, ev);
    if (ev === undefined) missing.add(id);
    return ev;
  };
  const hashes = new Map<string, string>();
  const sha1 = (id: string): string => {
    let h = hashes.get(id);
    if (h === undefined) {
      h = createHash('sha1').update(id, 'utf8').digest('hex');
      hashes.set(id, h);
    }
    return h;
  };
  const ascending = (a: EventView, b: EventView): number =>
    a.depth !== b.depth ? a.depth - b.depth : sha1(a.event_id) < sha1(b.event_id) ? 1 : -1;

  // Missing and rejected candidates are ignored (Synapse loads conflicted events without
  // rejected ones); a key left with one candidate is no longer in conflict, but, as in
  // Synapse, that event is not used to authorise the others.
  const candidates = new Map<StateKey, EventView[]>();
  const settled = new Map<StateKey, string>();
  for (const [key, ids] of conflicted) {
    const evs = ids.map(get).filter((e): e is EventView => e !== undefined && !e.rejected);
    if (evs.length > 1) candidates.set(key, evs.sort(ascending));
    else if (evs[0] !== undefined) settled.set(key, evs[0].event_id);
  }

  const r = new Map(unconflicted);
  const authState = (override?: EventView): AuthStateLookup => (type, key) => {
    if (override !== undefined && override.type === type && override.state_key === key) return override;
    const id = r.get(stateKey(type, key));
    const ev = id === undefined ? undefined : get(id);
    return ev !== undefined && !ev.rejected ? ev : undefined;
  };
  const authPass = (keys: StateKey[]): void => {
    const winners = keys.map((key) => {
      const [first, ...rest] = candidates.get(key)!;
      let winner = first!;
      for (const ev of rest) {
        if (!checkAuthRules(rv, ev, authState(winner)).allowed) break;
        winner = ev;
      }
      return winner;
    });
    keys.forEach((key, i) => r.set(key, winners[i]!.event_id));
  };
  const keysOfType = (type: string): StateKey[] =>
    [...candidates.keys()].filter((k) => splitStateKey(k)[0] === type);

  if (candidates.has(POWER_LEVELS)) authPass([POWER_LEVELS]);
  authPass(keysOfType('m.room.join_rules'));
  authPass(keysOfType('m.room.member'));

  const done = new Set([POWER_LEVELS, ...keysOfType('m.room.join_rules'), ...keysOfType('m.room.member')]);
  const others: [StateKey, string][] = [];
  for (const [key, evs] of candidates) {
    if (done.has(key)) continue;
    const descending = [...evs].reverse();
    const winner = descending.find((ev) => checkAuthRules(rv, ev, authState()).allowed) ?? descending.at(-1)!;
    others.push([key, winner.event_id]);
  }
  for (const [key, id] of others) r.set(key, id);
  for (const [key, id] of settled) r.set(key, id);
  return { state: r, missing: [...missing].sort() };
}
