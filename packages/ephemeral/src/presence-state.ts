/**
 * Presence as values and pure transitions (no I/O), after Synapse's model: a user's state, when they
 * were last active and last synced, and whether they count as "currently active". The handler applies
 * these; keeping them pure makes the timing rules testable on their own.
 */
import type { JsonObject } from '@hs/core';

export type PresenceValue = 'online' | 'unavailable' | 'offline';
export const PRESENCE_VALUES: readonly PresenceValue[] = ['online', 'unavailable', 'offline'];

export function isPresenceValue(v: unknown): v is PresenceValue {
  return v === 'online' || v === 'unavailable' || v === 'offline';
}

export interface UserPresence {
  readonly userId: string;
  readonly state: PresenceValue;
  readonly statusMsg: string | null;
  /** Last pro-active action (message, receipt, presence set to online); 0 = never. */
  readonly lastActiveTs: number;
  /** Local users: last time we told other servers; remote users: last time they told us. */
  readonly lastFederationUpdateTs: number;
  /** When the user's last /sync ended (or was seen). */
  readonly lastUserSyncTs: number;
  readonly currentlyActive: boolean;
}

/** Synapse's default timings. */
export interface PresenceTimings {
  /** Online users with no activity for this long become unavailable. */
  readonly idleMs: number;
  /** Users not syncing for this long (after their last sync or activity) become offline. */
  readonly syncOnlineTimeoutMs: number;
  /** Activity within this window counts as "currently active"; smaller bumps are not announced. */
  readonly lastActiveGranularityMs: number;
  /** Remote users not refreshed by their server for this long become offline. */
  readonly federationTimeoutMs: number;
}

export const DEFAULT_PRESENCE_TIMINGS: PresenceTimings = {
  idleMs: 5 * 60_000,
  syncOnlineTimeoutMs: 30_000,
  lastActiveGranularityMs: 60_000,
  federationTimeoutMs: 30 * 60_000,
};

export function defaultPresence(userId: string): UserPresence {
  return { userId, state: 'offline', statusMsg: null, lastActiveTs: 0, lastFederationUpdateTs: 0, lastUserSyncTs: 0, currentlyActive: false };
}

/** Recompute `currentlyActive` for `now`: only online users can be, and only shortly after activity. */
export function withCurrentActivity(s: UserPresence, now: number, t: PresenceTimings): UserPresence {
  const active = s.state === 'online' && now - s.lastActiveTs < t.lastActiveGranularityMs;
  return active === s.currentlyActive ? s : { ...s, currentlyActive: active };
}

/** Whether a change is worth a stream update (and thus a /sync wake-up for everyone sharing a room). */
export function shouldNotify(prev: UserPresence, next: UserPresence, t: PresenceTimings): boolean {
  if (prev.statusMsg !== next.statusMsg || prev.state !== next.state) return true;
  const bumpedFar = next.lastActiveTs - prev.lastActiveTs > t.lastActiveGranularityMs;
  if (prev.state === 'online') {
    if (prev.currentlyActive !== next.currentlyActive) return true;
    // While currently active, clients treat last-active as "now"; only announce bumps otherwise.
    return bumpedFar && !next.currentlyActive;
  }
  return bumpedFar;
}

/**
 * A local user's timers at `now`: idle → unavailable, not syncing → offline, and the end of the
 * "currently active" window. Returns the new state, or null when nothing changed.
 */
export function applyLocalTimeout(s: UserPresence, now: number, isSyncing: boolean, t: PresenceTimings): UserPresence | null {
  if (s.state === 'offline') return null;
  let next = s;
  if (next.state === 'online' && now - next.lastActiveTs > t.idleMs) next = { ...next, state: 'unavailable' };
  if (!isSyncing && now - Math.max(next.lastUserSyncTs, next.lastActiveTs) > t.syncOnlineTimeoutMs) {
    next = { ...next, state: 'offline' };
  }
  next = withCurrentActivity(next, now, t);
  return next === s ? null : next;
}

/** A remote user whose server stopped refreshing their presence goes offline. */
export function applyRemoteTimeout(s: UserPresence, now: number, t: PresenceTimings): UserPresence | null {
  if (s.state === 'offline' || now - s.lastFederationUpdateTs <= t.federationTimeoutMs) return null;
  return { ...s, state: 'offline', currentlyActive: false };
}

/** Deadlines at which `s` must be looked at again (local users). */
export function localDeadlines(s: UserPresence, t: PresenceTimings): number[] {
  if (s.state === 'offline') return [];
  const out = [Math.max(s.lastUserSyncTs, s.lastActiveTs) + t.syncOnlineTimeoutMs + 1];
  if (s.state === 'online') {
    out.push(s.lastActiveTs + t.idleMs + 1);
    if (s.currentlyActive) out.push(s.lastActiveTs + t.lastActiveGranularityMs);
  }
  return out;
}

/** The `m.presence` content (and GET /presence body) for `s` at `now`. */
export function formatPresence(s: UserPresence, now: number): JsonObject {
  const content: JsonObject = { presence: s.state };
  if (s.lastActiveTs) content.last_active_ago = Math.max(0, now - s.lastActiveTs);
  if (s.statusMsg) content.status_msg = s.statusMsg;
  if (s.state === 'online') content.currently_active = s.currentlyActive;
  return content;
}
