/**
 * GET /sync (client-server-api › Syncing, sync.yaml). Parameters are checked before anything is read;
 * the user counts as syncing (presence) for as long as the request is open. A long-poll listens first
 * (the user and their joined rooms), then takes the token, then reads: a change notified after the
 * listener was registered but before the read finished is never lost, and one that lands after the token
 * was taken is simply part of the next sync. It returns as soon as something is there; at the timeout
 * it computes once more with a fresh token, so `next_batch` moves on even when nothing happened.
 */
import { loadFilter } from '@hs/account-data';
import type { SyncToken } from '@hs/core';
import { SYNC_TOKEN_STREAMS, TokenError, decodeSyncToken, errors, maxPosition } from '@hs/core';
import type { PresenceValue } from '@hs/ephemeral';
import type { Handler, RequestContext } from '@hs/http';
import { queryBool, queryInt, queryString } from '@hs/http';
import type { StateAfterKey, SyncRequest, SyncResult } from './compute-sync.ts';
import { SyncComputer, UNSTABLE_STATE_AFTER } from './compute-sync.ts';
import { WeightedLru } from '@hs/rooms';
import type { SyncDeps } from './deps.ts';
import type { SyncFilter } from './filter.ts';
import { DEFAULT_FILTER_TIMELINE_LIMIT, compileFilter } from './filter.ts';

const PRESENCE_VALUES = new Set(['online', 'offline', 'unavailable']);
const DEFAULT_MAX_TIMEOUT_MS = 10 * 60_000;
const DEFAULT_CATCH_UP_MS = 10_000;
/** MSC4222's unstable parameter name, still what matrix-js-sdk sends (stable since v1.16: `use_state_after`). */
export const UNSTABLE_USE_STATE_AFTER = 'org.matrix.msc4222.use_state_after';

export interface SyncParams {
  readonly since: string | undefined;
  readonly filter: string | undefined;
  readonly fullState: boolean;
  readonly setPresence: PresenceValue;
  readonly timeoutMs: number;
  readonly useStateAfter: boolean;
  /** Where rooms carry it: the unstable key answers a client that asked only under the unstable name. */
  readonly stateAfterKey: StateAfterKey;
}

export function parseSyncParams(ctx: RequestContext, maxTimeoutMs = DEFAULT_MAX_TIMEOUT_MS): SyncParams {
  const req = ctx.req;
  const setPresence = queryString(req, 'set_presence') ?? 'online';
  if (!PRESENCE_VALUES.has(setPresence)) throw errors.invalidParam('set_presence must be one of online, offline, unavailable');
  const timeout = queryInt(req, 'timeout', { min: 0 }) ?? 0;
  const since = queryString(req, 'since');
  const filter = queryString(req, 'filter');
  const stateAfter = queryBool(req, 'use_state_after');
  const unstableStateAfter = queryBool(req, UNSTABLE_USE_STATE_AFTER);
  return {
    since: since === '' ? undefined : since,
    filter: filter === '' ? undefined : filter,
    fullState: queryBool(req, 'full_state') ?? false,
    setPresence: setPresence as PresenceValue,
    timeoutMs: Math.min(timeout, maxTimeoutMs),
    useStateAfter: stateAfter === true || unstableStateAfter === true,
    stateAfterKey: stateAfter !== true && unstableStateAfter === true ? UNSTABLE_STATE_AFTER : 'state_after',
  };
}

/** Streams whose `since` position being ahead of ours means this process has not caught up yet. */
const CATCH_UP_STREAMS = SYNC_TOKEN_STREAMS.filter((s) => s !== 'typing');

function behind(current: SyncToken, since: SyncToken): boolean {
  return CATCH_UP_STREAMS.some((s) => maxPosition(since[s]) > maxPosition(current[s]));
}

/** Every stream at the same position: a sync between the two has nothing to say. */
function sameToken(a: SyncToken, b: SyncToken): boolean {
  return SYNC_TOKEN_STREAMS.every((s) => {
    const x = a[s];
    const y = b[s];
    if (x.min !== y.min || x.ahead.size !== y.ahead.size) return false;
    for (const [id, p] of x.ahead) if (y.ahead.get(id) !== p) return false;
    return true;
  });
}

/** Filters stored per user never change: compiled once per (user, filter ID). */
const FILTER_CACHE_ENTRIES = 10_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function createSyncHandlers(deps: SyncDeps): Map<string, Handler> {
  const computer = new SyncComputer(deps);
  const cap = deps.filterTimelineLimit ?? DEFAULT_FILTER_TIMELINE_LIMIT;
  const defaultFilter = compileFilter({}, cap);
  const filters = new WeightedLru<string, SyncFilter>(FILTER_CACHE_ENTRIES);

  async function filterFor(userId: string, param: string | undefined): Promise<SyncFilter> {
    if (param === undefined) return defaultFilter;
    // Inline JSON is compiled each time (cheap, and no client-sized keys kept in memory).
    if (param.startsWith('{')) return compileFilter(await loadFilter(deps.sql, userId, param), cap);
    const key = `${userId}\u0000${param}`;
    const known = filters.get(key);
    if (known) return known;
    const compiled = compileFilter(await loadFilter(deps.sql, userId, param), cap);
    filters.set(key, compiled);
    return compiled;
  }

  /** Wait (briefly) for this process to reach a token another process issued. */
  async function caughtUp(since: SyncToken): Promise<SyncToken | undefined> {
    const deadline = Date.now() + (deps.catchUpTimeoutMs ?? DEFAULT_CATCH_UP_MS);
    for (;;) {
      const current = deps.currentToken();
      if (!behind(current, since)) return current;
      if (Date.now() >= deadline) return undefined;
      await sleep(20);
    }
  }

  async function longPoll(ctx: RequestContext, req: SyncRequest, timeoutMs: number): Promise<SyncResult | undefined> {
    const userId = req.requester.userId;
    const deadline = Date.now() + timeoutMs;
    let closed = false;
    let wake: (() => void) | undefined;
    const onClose = () => {
      closed = true;
      wake?.();
    };
    ctx.res.once('close', onClose);
    // A token known to give an empty answer: the client's own, then each one computed empty since.
    let nothingAt = req.since;
    try {
      for (;;) {
        const listener = deps.notifier.listen(userId, await computer.joinedRooms(userId));
        try {
          const token = deps.currentToken();
          // Nothing moved since the last empty answer (most often: the client's next poll, right
          // after its last response): wait without computing it again.
          const result = nothingAt && sameToken(token, nothingAt) ? undefined : await computer.compute({ ...req, discardIfEmpty: true }, token);
          if (result && !result.empty) return result;
          if (result) nothingAt = token;
          if (closed) return undefined;
          const left = deadline - Date.now();
          if (left <= 0) return await computer.compute(req, deps.currentToken());
          const fired = await Promise.race([listener.wait(left), new Promise<boolean>((r) => (wake = () => r(false)))]);
          wake = undefined;
          if (closed) return undefined;
          if (!fired) return await computer.compute(req, deps.currentToken());
        } finally {
          listener.close();
        }
      }
    } finally {
      ctx.res.off('close', onClose);
    }
  }

  const sync: Handler = async (ctx) => {
    const requester = ctx.requester;
    if (!requester) throw errors.missingToken();
    const params = parseSyncParams(ctx, deps.maxTimeoutMs);
    let since: SyncToken | undefined;
    if (params.since !== undefined) {
      try {
        since = decodeSyncToken(params.since);
      } catch (e) {
        if (e instanceof TokenError) throw errors.invalidParam(`Invalid since token: ${e.message}`);
        throw e;
      }
      await computer.validate(since);
    }
    const filter = await filterFor(requester.userId, params.filter);
    const req: SyncRequest = { requester, filter, fullState: params.fullState, useStateAfter: params.useStateAfter, stateAfterKey: params.stateAfterKey, ...(since ? { since } : {}) };

    let endSyncing: () => void = () => {};
    try {
      endSyncing = await deps.presence.userSyncing(requester.userId, params.setPresence);
    } catch (e) {
      deps.log.warn('could not mark the user as syncing', { user_id: requester.userId, error: String(e) });
    }
    try {
      if (since && !(await caughtUp(since))) {
        // Another process issued a token this one has not reached: answer nothing new, keep the token.
        deps.log.warn('sync token ahead of this process; returning an empty response', { user_id: requester.userId });
        return { body: { next_batch: params.since as string } };
      }
      const result =
        since === undefined || params.fullState || params.timeoutMs === 0
          ? await computer.compute(req, deps.currentToken())
          : await longPoll(ctx, req, params.timeoutMs);
      if (!result) return undefined;
      result.commit();
      return { body: result.body };
    } finally {
      endSyncing();
    }
  };

  return new Map([['sync', sync]]);
}
