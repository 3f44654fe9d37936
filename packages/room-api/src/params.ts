/** Small request helpers shared by the handlers: who is asking, path and query values, and guards. */
import { MatrixError, errors } from '@hs/core';
import type { Authenticator, Handler, RequestContext, Requester } from '@hs/http';
import { queryInt, queryString } from '@hs/http';
import { hasNul } from '@hs/rooms/ids';

export function requester(ctx: RequestContext): Requester {
  if (!ctx.requester) throw errors.missingToken();
  return ctx.requester;
}

/**
 * For endpoints where signing in is optional: the requester when the request carries an access token
 * (a bad token is still 401), undefined when it carries none — or a header that is no bearer token,
 * as Synapse treats it.
 */
export async function optionalRequester(ctx: RequestContext, authenticate: Authenticator | undefined): Promise<Requester | undefined> {
  if (!authenticate) return undefined;
  if (ctx.req.get('authorization') === undefined && (ctx.req.query as Record<string, unknown>).access_token === undefined) return undefined;
  try {
    return await authenticate(ctx.req);
  } catch (e) {
    if (e instanceof MatrixError && e.errcode === 'M_MISSING_TOKEN') return undefined;
    throw e;
  }
}

export function param(ctx: RequestContext, name: string): string {
  return ctx.params[name] ?? '';
}

export function requireRoomId(roomId: string): void {
  if (!roomId.startsWith('!') || Buffer.byteLength(roomId) > 255) throw errors.invalidParam(`${roomId} is not a room ID`);
}

export function requireEventId(eventId: string): void {
  if (!eventId.startsWith('$') || Buffer.byteLength(eventId) > 255) throw errors.invalidParam(`${eventId} is not an event ID`);
}

export type Direction = 'b' | 'f';

/** `dir`: `b` or `f`; `fallback` when absent (undefined → required). */
export function directionParam(ctx: RequestContext, fallback?: Direction): Direction {
  const v = queryString(ctx.req, 'dir');
  if (v === undefined || v === '') {
    if (fallback === undefined) throw errors.missingParam('Missing query parameter: dir');
    return fallback;
  }
  if (v !== 'b' && v !== 'f') throw errors.invalidParam("dir must be 'b' or 'f'");
  return v;
}

/** `limit` with a default, clamped to `max`; negative values are refused. */
export function limitParam(ctx: RequestContext, dflt: number, max: number, min = 0): number {
  const n = queryInt(ctx.req, 'limit');
  if (n === undefined) return dflt;
  if (n < min) throw errors.invalidParam(`limit must be at least ${min}`);
  return Math.min(n, max);
}

export function forbiddenGuest(r: Requester): void {
  if (r.isGuest) throw new MatrixError(403, 'M_GUEST_ACCESS_FORBIDDEN', 'Guest access not allowed');
}

/** Whether any string in a JSON value (keys included) contains NUL. */
function containsNul(v: unknown, depth = 0): boolean {
  if (typeof v === 'string') return hasNul(v);
  if (depth > 64 || v === null || typeof v !== 'object') return false;
  if (Array.isArray(v)) return v.some((x) => containsNul(x, depth + 1));
  return Object.entries(v).some(([k, x]) => hasNul(k) || containsNul(x, depth + 1));
}

/**
 * Path, query and body strings go into SQL; Postgres text cannot hold NUL, so refuse it up front
 * (event content sent through @hs/rooms is checked there).
 */
export function rejectNul(handler: Handler): Handler {
  return (ctx) => {
    const query = Object.values(ctx.req.query as Record<string, unknown>).flat();
    for (const v of [...Object.values(ctx.params), ...query]) {
      if (typeof v === 'string' && hasNul(v)) throw errors.invalidParam('Parameters cannot contain NUL characters');
    }
    if (containsNul(ctx.body)) throw errors.invalidParam('Strings in the request body cannot contain NUL characters');
    return handler(ctx);
  };
}
