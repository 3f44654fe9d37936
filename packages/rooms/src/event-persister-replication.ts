/**
 * Persisting events from a process that is not (or not the only) `events` writer. Rooms are sharded
 * over the event persisters with the fleet's stable hash; a batch for a room this process persists is
 * written locally, any other goes over HTTP replication to its persister, which runs the same
 * LocalEventPersister. The caller then waits until its own follower has applied the written position,
 * so the client that sent the event reads it back from this process at once.
 *
 * A refusal that means "rebuild on fresh state" (the room moved on, a send transaction raced) travels
 * as 409 and becomes StaleExtremitiesError again, so the EventCreator retries it as it would locally.
 */
import type { JsonObject, JsonValue } from '@hs/core';
import { MatrixError, errors, isJsonObject } from '@hs/core';
import type { PDU } from '@hs/events';
import { pickInstance, type ReplicationCaller, type ReplicationEndpointRegistry } from '@hs/replication';
import type { EventPersister, PersistItem, PersistOptions, PersistResult } from './persister.ts';
import { StaleExtremitiesError } from './persister.ts';

const ENDPOINT = 'events_persist';
const STALE = 'HS_STALE_EXTREMITIES';

function isStale(e: unknown): boolean {
  return e instanceof StaleExtremitiesError || (e as { code?: unknown })?.code === '23505';
}

const optionalString = (v: unknown): boolean => v === undefined || typeof v === 'string';

function parseItem(v: unknown): PersistItem {
  if (!isJsonObject(v) || !isJsonObject(v.pdu)) throw errors.badJson('each item needs a pdu object');
  const { eventId, roomId, roomVersion, outlier, rejectedReason, txn, requireExtremities, stateGroupBefore, applyRedaction } = v;
  if (typeof eventId !== 'string' || typeof roomId !== 'string' || typeof roomVersion !== 'string') {
    throw errors.badJson('each item needs eventId, roomId and roomVersion strings');
  }
  if (!optionalString(rejectedReason) || (outlier !== undefined && typeof outlier !== 'boolean') || (applyRedaction !== undefined && typeof applyRedaction !== 'boolean')) {
    throw errors.badJson('malformed item flags');
  }
  if (requireExtremities !== undefined && !(Array.isArray(requireExtremities) && requireExtremities.every((x) => typeof x === 'string'))) {
    throw errors.badJson('requireExtremities must be a list of event IDs');
  }
  if (stateGroupBefore !== undefined && stateGroupBefore !== null && !Number.isSafeInteger(stateGroupBefore)) {
    throw errors.badJson('stateGroupBefore must be an integer or null');
  }
  if (txn !== undefined && !(isJsonObject(txn) && typeof txn.userId === 'string' && typeof txn.scope === 'string' && typeof txn.txnId === 'string')) {
    throw errors.badJson('txn must be {userId, scope, txnId}');
  }
  return {
    pdu: v.pdu as unknown as PDU,
    eventId,
    roomId,
    roomVersion,
    ...(outlier !== undefined ? { outlier } : {}),
    ...(typeof rejectedReason === 'string' ? { rejectedReason } : {}),
    ...(txn !== undefined ? { txn: txn as unknown as PersistItem['txn'] } : {}),
    ...(requireExtremities !== undefined ? { requireExtremities: requireExtremities as string[] } : {}),
    ...(stateGroupBefore !== undefined ? { stateGroupBefore: stateGroupBefore as number | null } : {}),
    ...(applyRedaction !== undefined ? { applyRedaction } : {}),
  };
}

/** On an events writer: persist batches other processes send. */
export function registerEventPersisterEndpoints(server: ReplicationEndpointRegistry, local: EventPersister): void {
  server.register({
    name: ENDPOINT,
    params: ['room_id'],
    async handler(req) {
      const body = req.body;
      if (!isJsonObject(body) || !Array.isArray(body.items) || body.items.length === 0) throw errors.badJson('expected {items: [...]}');
      const items = body.items.map(parseItem);
      if (items.some((i) => i.roomId !== req.params.room_id)) throw errors.badJson('every item must be in the room named in the path');
      try {
        const result = await local.persist(items);
        return result as unknown as JsonValue;
      } catch (e) {
        if (isStale(e)) throw new MatrixError(409, STALE, String((e as Error).message));
        throw e;
      }
    },
  });
}

export interface RoutedEventPersisterOptions {
  /** The `events` writers, in configured order (the order decides the sharding). */
  readonly writers: readonly string[];
  /** This process's name and local persister, when it is one of the writers. */
  readonly local?: { readonly instance: string; readonly persister: EventPersister };
  readonly client: ReplicationCaller;
  waitFor(stream: string, instance: string, position: number): Promise<void>;
}

/** Sends each room's batch to the persister that owns the room (this process's own rooms stay local). */
export class RoutedEventPersister implements EventPersister {
  private readonly opts: RoutedEventPersisterOptions;

  constructor(opts: RoutedEventPersisterOptions) {
    if (opts.writers.length === 0) throw new Error('no events writers configured');
    this.opts = opts;
  }

  /** The persister instance that owns `roomId`. */
  writerFor(roomId: string): string {
    return pickInstance(roomId, this.opts.writers);
  }

  async persist(items: readonly PersistItem[], opts: PersistOptions = {}): Promise<PersistResult> {
    if (items.length === 0) return { events: [], position: 0 };
    const byRoom = new Map<string, PersistItem[]>();
    for (const item of items) {
      let list = byRoom.get(item.roomId);
      if (!list) byRoom.set(item.roomId, (list = []));
      list.push(item);
    }
    if (byRoom.size === 1) return this.persistRoom(items[0]!.roomId, items, opts);
    // Several rooms (rare: the creator batches per room): one call each, results in input order.
    const results = new Map<string, PersistResult>();
    for (const [roomId, list] of byRoom) results.set(roomId, await this.persistRoom(roomId, list));
    const cursor = new Map<string, number>();
    const events = items.map((item) => {
      const i = cursor.get(item.roomId) ?? 0;
      cursor.set(item.roomId, i + 1);
      return results.get(item.roomId)!.events[i]!;
    });
    return { events, position: Math.max(...[...results.values()].map((r) => r.position)) };
  }

  /** `opts` reach a local persister only (a remote one answers once it is done). */
  private async persistRoom(roomId: string, items: readonly PersistItem[], opts: PersistOptions = {}): Promise<PersistResult> {
    const instance = this.writerFor(roomId);
    const local = this.opts.local;
    if (local && local.instance === instance) return local.persister.persist(items, opts);
    let result: PersistResult;
    try {
      result = await this.opts.client.call<JsonObject>(instance, ENDPOINT, [roomId], { items: items as unknown as JsonValue }) as unknown as PersistResult;
    } catch (e) {
      if (e instanceof MatrixError && e.errcode === STALE) throw new StaleExtremitiesError(roomId);
      throw e;
    }
    if (result.events.some((e) => !e.duplicate)) await this.opts.waitFor('events', instance, result.position);
    return result;
  }
}
