/**
 * The tail of every room's timeline in memory, so an incremental /sync answers "what happened in my
 * rooms since my token" without a query of its own. The tail is read from Postgres once per position
 * the events stream reaches (one query for all rooms, shared by every syncing client), never per
 * request: with ten members per room, one read replaces ten.
 *
 * What is held is complete: for a room, every timeline event (neither outlier nor rejected), every
 * current-state change and (optionally) every push action row in `(from, coveredTo]`, events ready to
 * serialise. A room with nothing held is known
 * to have had nothing in `(floor, coveredTo]`. Anything older is not known, and /sync asks Postgres.
 *
 * Only plain positions are served (no writer ahead of the rest), where "everything up to N" is
 * committed; a token naming writers ahead is answered from Postgres.
 */
import type { PushActionCountRow } from '@hs/push';
import type { ClientEventSource, CurrentStateDelta, EventStore } from '@hs/rooms';
import { loadEventsForClient } from '@hs/rooms';

export interface CachedRoomTail {
  /** Everything after this position is held. */
  readonly from: number;
  /** Ascending by stream position. */
  readonly events: readonly ClientEventSource[];
  /** Ascending by stream position. */
  readonly deltas: readonly CurrentStateDelta[];
  /** Push action rows (for notification counts), ascending; only when the cache reads them. */
  readonly actions: readonly PushActionCountRow[];
}

interface RoomTail {
  from: number;
  events: ClientEventSource[];
  deltas: CurrentStateDelta[];
  actions: PushActionCountRow[];
}

export interface RoomTimelineCacheOptions {
  /** Events kept per room (older ones are dropped, and the room's window starts after them). */
  readonly perRoom?: number;
  /** Events kept over all rooms; the rooms updated longest ago go first. */
  readonly total?: number;
  /** A gap wider than this is not read: the cache starts again at the new position. */
  readonly maxGap?: number;
  /** Also hold the push action rows of the events, read with them (for notification counts). */
  readonly pushActions?: (from: number, to: number) => Promise<PushActionCountRow[]>;
}

const EMPTY: readonly never[] = [];

export class RoomTimelineCache {
  private readonly store: EventStore;
  private readonly perRoom: number;
  private readonly total: number;
  private readonly maxGap: number;
  private readonly pushActions: RoomTimelineCacheOptions['pushActions'];
  /** Room → tail; iteration order is least recently extended first. */
  private readonly rooms = new Map<string, RoomTail>();
  private held = 0;
  /** Rooms absent from `rooms` had nothing in (floor, coveredTo]. Undefined until the first read. */
  private floor: number | undefined;
  private coveredTo = 0;
  private wanted = 0;
  private loading: Promise<void> | undefined;
  /** Lookups answered from memory, and those left to Postgres (tests read them). */
  readonly stats = { hits: 0, misses: 0 };

  constructor(store: EventStore, opts: RoomTimelineCacheOptions = {}) {
    this.store = store;
    this.perRoom = opts.perRoom ?? 100;
    this.total = opts.total ?? 20_000;
    this.maxGap = opts.maxGap ?? 5_000;
    this.pushActions = opts.pushActions;
  }

  /**
   * Make everything up to `to` held (every event at or below it must be committed). The first call
   * only starts the window at `to`; later ones read what was added in between, one read at a time.
   */
  async advanceTo(to: number): Promise<void> {
    if (this.floor === undefined) {
      this.floor = this.coveredTo = to;
      return;
    }
    this.wanted = Math.max(this.wanted, to);
    while (this.coveredTo < to) {
      if (!this.loading) {
        const target = this.wanted;
        this.loading = this.load(this.coveredTo, target).finally(() => {
          this.loading = undefined;
        });
      }
      await this.loading;
    }
  }

  /** The room's tail when it covers `(since, to]`, else undefined (ask Postgres). */
  tail(roomId: string, since: number, to: number): CachedRoomTail | undefined {
    const found = this.lookup(roomId, since, to);
    if (found) this.stats.hits++;
    else this.stats.misses++;
    return found;
  }

  private lookup(roomId: string, since: number, to: number): CachedRoomTail | undefined {
    if (this.floor === undefined || to > this.coveredTo) return undefined;
    const room = this.rooms.get(roomId);
    if (!room) return since >= this.floor ? { from: this.floor, events: EMPTY, deltas: EMPTY, actions: EMPTY } : undefined;
    return since >= room.from ? room : undefined;
  }

  private async load(from: number, to: number): Promise<void> {
    if (to - from > this.maxGap) {
      // Too far behind to be worth reading: know nothing below `to` instead.
      this.rooms.clear();
      this.held = 0;
      this.floor = this.coveredTo = to;
      return;
    }
    const [events, deltas, actions] = await Promise.all([
      this.store.getTimelineEventsBetween(from, to),
      this.store.getCurrentStateDeltas(from, to),
      this.pushActions ? this.pushActions(from, to) : [],
    ]);
    const sources = await loadEventsForClient(this.store, events);
    const floor = this.floor as number;
    const touch = (roomId: string): RoomTail => {
      let room = this.rooms.get(roomId);
      if (room) this.rooms.delete(roomId);
      else room = { from: floor, events: [], deltas: [], actions: [] };
      this.rooms.set(roomId, room);
      return room;
    };
    const touched = new Set<RoomTail>();
    for (const src of sources) {
      const ev = src.event;
      const room = touch(ev.roomId);
      touched.add(room);
      // A redaction changes how an earlier event is served: start the room's window after it.
      if (ev.redacts !== undefined) this.restartAfter(room, ev.streamOrdering - 1);
      room.events.push(src);
      this.held++;
    }
    // After the events: a room restarted by a redaction takes only what follows it.
    for (const d of deltas) {
      const room = touch(d.roomId);
      if (d.streamId > room.from) room.deltas.push(d);
    }
    for (const a of actions) {
      const room = touch(a.roomId);
      if (a.streamOrdering > room.from) room.actions.push(a);
    }
    for (const room of touched) this.trim(room);
    this.evict();
    this.coveredTo = to;
  }

  /** Forget what a room held up to `position`: its window starts after it. */
  private restartAfter(room: RoomTail, position: number): void {
    this.held -= room.events.length;
    room.events = [];
    room.from = Math.max(room.from, position);
    room.deltas = room.deltas.filter((d) => d.streamId > room.from);
    room.actions = room.actions.filter((a) => a.streamOrdering > room.from);
  }

  private trim(room: RoomTail): void {
    const extra = room.events.length - this.perRoom;
    if (extra <= 0) return;
    const dropped = room.events.splice(0, extra);
    this.held -= extra;
    room.from = (dropped[dropped.length - 1] as ClientEventSource).event.streamOrdering;
    room.deltas = room.deltas.filter((d) => d.streamId > room.from);
    room.actions = room.actions.filter((a) => a.streamOrdering > room.from);
  }

  private evict(): void {
    for (const [roomId, room] of this.rooms) {
      if (this.held <= this.total) break;
      this.rooms.delete(roomId);
      this.held -= room.events.length;
      // Rooms not held are known empty only above the last thing this one held.
      const last = Math.max(
        room.events[room.events.length - 1]?.event.streamOrdering ?? 0,
        room.deltas[room.deltas.length - 1]?.streamId ?? 0,
        room.actions[room.actions.length - 1]?.streamOrdering ?? 0,
        room.from,
      );
      this.floor = Math.max(this.floor as number, last);
    }
  }
}
