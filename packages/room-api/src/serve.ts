/** Serving a list of visible events to a client: client format, `unsigned.membership`, bundles. */
import type { JsonObject } from '@hs/core';
import type { ClientEventFormat, ClientRequester, EventStore, StoredEvent, VisibleEvent } from '@hs/rooms';
import { loadEventsForClient, serializeEvent } from '@hs/rooms';
import { attachBundles, bundleAggregations } from './aggregations.ts';

export interface ServeContext {
  readonly store: EventStore;
  readonly requester: ClientRequester;
  readonly now: number;
  readonly ignored: ReadonlySet<string>;
  readonly format?: ClientEventFormat;
}

/** Serialise `events` in order; `bundle: false` leaves out aggregations (state lists). */
export async function serveEvents(
  ctx: ServeContext,
  events: readonly (StoredEvent | VisibleEvent)[],
  opts: { bundle?: boolean } = {},
): Promise<JsonObject[]> {
  const stored = events.map((e) => ('event' in e ? e.event : e));
  const memberships = new Map(events.flatMap((e) => ('event' in e ? [[e.event.eventId, e.membership] as const] : [])));
  const [sources, bundles] = await Promise.all([
    loadEventsForClient(ctx.store, stored),
    opts.bundle === false
      ? new Map<string, JsonObject>()
      : bundleAggregations(ctx.store, ctx.requester.userId, stored, {
          requester: ctx.requester,
          now: ctx.now,
          format: ctx.format ?? 'client',
          ignoredUsers: ctx.ignored,
        }),
  ]);
  const out = sources.map((s) => {
    const membership = memberships.get(s.event.eventId);
    return serializeEvent(s, ctx.format ?? 'client', {
      requester: ctx.requester,
      now: ctx.now,
      ...(membership !== undefined ? { membership } : {}),
    });
  });
  attachBundles(out, bundles);
  return out;
}
