import type { StateKey, StateMap } from '../types.ts';

export interface SeparatedState {
  /** Keys every relevant state set agrees on. */
  readonly unconflicted: Map<StateKey, string>;
  /** Conflicted keys → the distinct event IDs the state sets hold for them. */
  readonly conflicted: Map<StateKey, string[]>;
}

/**
 * State resolution v2 / v2.1: a key is unconflicted only when it is present in every state
 * set with the same event; a key missing from any set is conflicted.
 */
export function separateV2(stateSets: readonly StateMap[]): SeparatedState {
  const unconflicted = new Map<StateKey, string>();
  const conflicted = new Map<StateKey, string[]>();
  const k = stateSets.length;
  const first = stateSets[0];
  if (first === undefined) return { unconflicted, conflicted };
  // How many of the first set's keys each other set holds: when that equals its size, the
  // set has no keys of its own and need not be scanned for them.
  const shared = new Array<number>(k).fill(0);
  for (const [key, id] of first) {
    let agreed = true;
    for (let j = 1; j < k; j++) {
      const other = stateSets[j]!.get(key);
      if (other !== undefined) shared[j]!++;
      if (other !== id) agreed = false;
    }
    if (agreed) unconflicted.set(key, id);
    else conflicted.set(key, []);
  }
  for (let j = 1; j < k; j++) {
    const s = stateSets[j]!;
    if (shared[j] === s.size) continue;
    for (const key of s.keys()) if (!first.has(key)) conflicted.set(key, []);
  }
  for (const [key, ids] of conflicted) {
    for (const s of stateSets) {
      const id = s.get(key);
      if (id !== undefined && !ids.includes(id)) ids.push(id);
    }
  }
  return { unconflicted, conflicted };
}

/**
 * State resolution v1: a conflict is two state sets holding different events for a key; a
 * key that only some sets hold is not in conflict (the spec starts from the union).
 */
export function separateV1(stateSets: readonly StateMap[]): SeparatedState {
  const unconflicted = new Map<StateKey, string>();
  const conflicted = new Map<StateKey, string[]>();
  for (const s of stateSets) {
    for (const [key, id] of s) {
      const ids = conflicted.get(key);
      if (ids !== undefined) {
        if (!ids.includes(id)) ids.push(id);
        continue;
      }
      const seen = unconflicted.get(key);
      if (seen === undefined) unconflicted.set(key, id);
      else if (seen !== id) {
        unconflicted.delete(key);
        conflicted.set(key, [seen, id]);
      }
    }
  }
  return { unconflicted, conflicted };
}
