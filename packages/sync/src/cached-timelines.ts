/**
 * Incremental timelines from the room timeline cache, for a user who was joined to every room of the
 * request throughout the window (no membership change of theirs since `since`): every event in it is
 * visible to them, with `join` as their membership. The same filter, ignore list and limit as the
 * Postgres path (`loadTimelines`) apply; rooms the cache does not cover are left for that path.
 */
import type { ClientEventSource, CurrentStateDelta } from '@hs/rooms';
import type { RoomEventFilter } from './filter.ts';
import { allowsEvent, contentHasUrl } from './filter.ts';
import type { RoomTimelineCache } from './room-timeline-cache.ts';
import type { RoomTimeline, TimelineRequest } from './timeline.ts';

export interface CachedTimelines {
  readonly timelines: Map<string, RoomTimeline>;
  /** Each served room's current-state changes in (since, to]. */
  readonly deltas: Map<string, CurrentStateDelta[]>;
  /** The served events, ready to serialise. */
  readonly sources: Map<string, ClientEventSource>;
  /** Requests the cache could not answer. */
  readonly rest: TimelineRequest[];
}

export function timelinesFromCache(
  cache: RoomTimelineCache,
  requests: readonly TimelineRequest[],
  since: number,
  to: number,
  filter: RoomEventFilter,
  limit: number,
  ignored: readonly string[],
): CachedTimelines {
  const out: CachedTimelines = { timelines: new Map(), deltas: new Map(), sources: new Map(), rest: [] };
  const ignoredSet = new Set(ignored);
  for (const req of requests) {
    const tail = req.since !== undefined && req.cap === undefined && !req.forceLimited ? cache.tail(req.roomId, since, to) : undefined;
    if (!tail) {
      out.rest.push(req);
      continue;
    }
    // Newest first, at most limit + 1 to know whether there were more.
    const picked: ClientEventSource[] = [];
    for (let i = tail.events.length - 1; i >= 0 && picked.length <= limit; i--) {
      const src = tail.events[i] as ClientEventSource;
      const ev = src.event;
      if (ev.streamOrdering > to) continue;
      if (ev.streamOrdering <= since) break;
      // As the contains_url column: the content as sent, even if since redacted.
      // Ignored users' state events still count (state must stay consistent).
      if (ev.stateKey === undefined && ignoredSet.has(ev.sender)) continue;
      if (!allowsEvent(filter, { type: ev.type, sender: ev.sender, containsUrl: contentHasUrl(ev.pdu.content) })) continue;
      picked.push(src);
    }
    const kept = picked.slice(0, limit).reverse();
    for (const src of kept) out.sources.set(src.event.eventId, src);
    out.timelines.set(req.roomId, { events: kept.map((src) => ({ event: src.event, membership: 'join' })), limited: picked.length > limit });
    out.deltas.set(req.roomId, tail.deltas.filter((d) => d.streamId > since && d.streamId <= to));
  }
  return out;
}
