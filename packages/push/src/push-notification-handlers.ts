/**
 * Handlers for GET /notifications, GET /pushers and POST /pushers/set. Reads come from Postgres;
 * pusher writes go through a `PushersWriter` (locally: this process's `pushers` stream writer).
 */
import { MatrixError, errors, type Logger, type NotifyFn } from '@hs/core';
import { queryInt, queryString, type Handler, type RequestContext, type Requester } from '@hs/http';
import { EventStore } from '@hs/rooms';
import type { Sql, StreamWriter } from '@hs/storage';
import { getNotifications } from './notifications-list.ts';
import { streamOrderingAtTime } from './push-actions-cleanup.ts';
import { checkPusherRequest } from './pusher-validation.ts';
import { formatPusher, getPushersForUser } from './pushers-store.ts';
import { createLocalPushersWriter, type PushersWriter } from './pushers-writer.ts';

export interface PushersDeps {
  readonly sql: Sql;
  readonly log: Logger;
  readonly notify: NotifyFn;
  readonly serverName: string;
  /** This process's writer of the `pushers` stream; needed only where POST /pushers/set is served. */
  readonly pushersWriter?: StreamWriter;
  /** Replaces the local write path (e.g. with a replication client to the stream's writer). */
  readonly pushers?: PushersWriter;
  /** Reads the events of /notifications; default: an EventStore over `sql`. */
  readonly eventStore?: EventStore;
  /**
   * How far back GET /notifications looks (Synapse keeps a month of highlights, less of the rest).
   * Bounds the scan for users in busy rooms they rarely get notified in. Default 30 days.
   */
  readonly notificationsLookbackMs?: number;
  readonly clock?: () => number;
}

/** Synapse's page size when the client names none; larger requests are capped here. */
const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 1000;

function user(ctx: RequestContext): Requester {
  const requester = ctx.requester;
  if (!requester) throw new Error('push notification endpoint reached without authentication');
  if (requester.isGuest) throw new MatrixError(403, 'M_GUEST_ACCESS_FORBIDDEN', 'Guests cannot use push notifications.');
  return requester;
}

export function createPushNotificationHandlers(deps: PushersDeps): Map<string, Handler> {
  const { sql } = deps;
  const store = deps.eventStore ?? new EventStore(sql);
  const clock = deps.clock ?? Date.now;
  const writer =
    deps.pushers ??
    (deps.pushersWriter
      ? createLocalPushersWriter({ sql, writer: deps.pushersWriter, notify: deps.notify, log: deps.log, clock })
      : undefined);
  // The lookback as a stream ordering, found by a short binary search and reused for a minute.
  const lookbackMs = deps.notificationsLookbackMs ?? 30 * 24 * 60 * 60 * 1000;
  let lookback: { at: number; streamOrdering: Promise<number> } | undefined;
  const lookbackBound = (): Promise<number> => {
    const now = clock();
    if (!lookback || now - lookback.at > 60_000) {
      const streamOrdering = streamOrderingAtTime(sql, now - lookbackMs);
      lookback = { at: now, streamOrdering };
      streamOrdering.catch(() => (lookback = undefined));
    }
    return lookback.streamOrdering;
  };
  const writes = (): PushersWriter => {
    if (!writer) throw new Error('this process does not write the pushers stream; pusher writes must be routed to its writer');
    return writer;
  };

  return new Map<string, Handler>([
    [
      'notifications_get',
      async (ctx) => {
        const requester = user(ctx);
        const from = queryString(ctx.req, 'from');
        if (from !== undefined && !/^\d{1,15}$/.test(from)) throw errors.invalidParam('Unknown pagination token in from.');
        const limit = Math.min(queryInt(ctx.req, 'limit', { min: 0 }) ?? DEFAULT_LIMIT, MAX_LIMIT);
        const page = await getNotifications(sql, store, requester.userId, {
          ...(from !== undefined ? { before: Number(from) } : {}),
          after: await lookbackBound(),
          limit,
          onlyHighlight: queryString(ctx.req, 'only') === 'highlight',
          requester,
          now: clock(),
        });
        return { body: page };
      },
    ],
    [
      'pushers_get',
      async (ctx) => {
        const { userId } = user(ctx);
        return { body: { pushers: (await getPushersForUser(sql, userId)).map(formatPusher) } };
      },
    ],
    [
      'pushers_set',
      async (ctx) => {
        const requester = user(ctx);
        const req = checkPusherRequest(ctx.body as Record<string, unknown>);
        if (req.kind === null) {
          await writes().removePusher(requester.userId, req.appId, req.pushkey);
          return { body: {} };
        }
        await writes().setPusher(
          {
            userId: requester.userId,
            appId: req.appId,
            pushkey: req.pushkey,
            kind: req.kind,
            appDisplayName: req.appDisplayName,
            deviceDisplayName: req.deviceDisplayName,
            ...(req.profileTag !== undefined ? { profileTag: req.profileTag } : {}),
            lang: req.lang,
            data: req.data,
            ...(requester.deviceId !== undefined ? { deviceId: requester.deviceId } : {}),
            ...(requester.tokenId !== undefined ? { accessTokenId: requester.tokenId } : {}),
          },
          { append: req.append },
        );
        return { body: {} };
      },
    ],
  ]);
}
