import type { StateKey, StateMap } from '../types.ts';
import { stateKey } from '../types.ts';
import type { RoomVersion } from '../room-versions.ts';
import type { AuthStateLookup } from '../auth-rules.ts';
import { checkAuthRules } from '../auth-rules.ts';
import type { EventGraph } from './event-graph.ts';
import { authEventTypesFor } from '../auth-event-selection.ts';

/** A state map being built on top of an optional base that is never copied. */
export class LayeredState {
  readonly changes = new Map<StateKey, string>();
  private readonly base: StateMap | undefined;

  constructor(base?: StateMap) {
    this.base = base;
  }

  get(key: StateKey): string | undefined {
    return this.changes.get(key) ?? this.base?.get(key);
  }

  set(key: StateKey, eventId: string): void {
    this.changes.set(key, eventId);
  }
}

/**
 * A lookup over an event's own auth events (rejected ones included; callers that must skip
 * them do so). In room v12 the create event is among them via the graph's implicit edge.
 */
export function ownAuthEvents(g: EventGraph, n: number): AuthStateLookup {
  const auth = g.authOf(n);
  return (type, key) => {
    for (const a of auth) {
      const ev = g.event(a);
      if (ev !== undefined && ev.type === type && ev.state_key === key) return ev;
    }
    return undefined;
  };
}

/**
 * The iterative auth checks: apply each event in order if the auth rules allow it against
 * the state built so far. Keys the rules need that the state lacks come from the event's
 * own (non-rejected) auth events. Events already marked rejected are not admitted, as in
 * Synapse: their rejection is kept rather than re-judged here.
 */
export function iterativeAuthChecks(
  rv: RoomVersion,
  g: EventGraph,
  order: readonly number[],
  state: LayeredState,
): void {
  for (const n of order) {
    const ev = g.event(n);
    if (ev === undefined || ev.rejected || ev.state_key === undefined) continue;
    const required = authEventTypesFor(rv, ev).map(([type, key]) => stateKey(type, key));
    const auth = g.authOf(n);
    const lookup: AuthStateLookup = (type, key) => {
      const k = stateKey(type, key);
      if (required.includes(k)) {
        const id = state.get(k);
        if (id !== undefined) {
          const current = g.event(g.node(id));
          if (current !== undefined && !current.rejected) return current;
        }
      }
      for (const a of auth) {
        const e = g.event(a);
        if (e !== undefined && !e.rejected && e.type === type && e.state_key === key) return e;
      }
      return undefined;
    };
    if (checkAuthRules(rv, ev, lookup).allowed) state.set(stateKey(ev.type, ev.state_key), g.ids[n]!);
  }
}
