import type { EventView } from './types.ts';

/** Outcome of an authorisation check; a denial always says which rule failed. */
export type AuthResult = { readonly allowed: true } | { readonly allowed: false; readonly reason: string };

/** Look up the auth state the event is checked against: (type, state_key) → event, or undefined. */
export type AuthStateLookup = (type: string, stateKey: string) => EventView | undefined;

export const ALLOW: AuthResult = Object.freeze({ allowed: true });

export function deny(reason: string): AuthResult {
  return { allowed: false, reason };
}

/** Rejected events never take part in auth, so a lookup hit on one counts as absent. */
export function withoutRejected(lookup: AuthStateLookup): AuthStateLookup {
  return (type, key) => {
    const ev = lookup(type, key);
    return ev && !ev.rejected ? ev : undefined;
  };
}

/** Builds a lookup over a list of events (e.g. an event's auth_events); later entries win. */
export function authStateFromEvents(events: Iterable<EventView>): AuthStateLookup {
  const map = new Map<string, EventView>();
  for (const ev of events) {
    if (ev.state_key !== undefined) map.set(`${ev.type}\u0000${ev.state_key}`, ev);
  }
  return (type, key) => map.get(`${type}\u0000${key}`);
}
