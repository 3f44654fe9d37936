import type { StateMap } from '../types.ts';

export interface StateResOptions {
  /**
   * The auth difference of the state sets (event IDs), when the caller can compute it more
   * cheaply, e.g. from a chain cover index. Skips walking the full auth chains. v2/v2.1 only.
   */
  readonly authDifference?: Iterable<string>;
}

export interface StateResResult {
  readonly state: StateMap;
  /**
   * Events the resolution needed (conflicted entries, auth chains; nothing is looked up when
   * the state sets agree) that the lookup could not supply. They were ignored; sorted.
   */
  readonly missing: readonly string[];
}
