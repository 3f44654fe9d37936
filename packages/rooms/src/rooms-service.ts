/**
 * One process's rooms domain: the store (reads), the persister (local or remote), and the event
 * creator with its per-room queues. Create ONE per process and share it between the HTTP handlers
 * and other domains (profile changes), so that all event creation for a room goes through the same
 * queue.
 */
import type { JsonObject } from '@hs/core';
import type { RoomsDeps, MemberProfile } from './deps.ts';
import type { RoomsContext } from './context.ts';
import { EventStore } from './event-store.ts';
import type { EventPersister } from './persister.ts';
import { LocalEventPersister } from './persister.ts';
import { EventCreator } from './event-creator.ts';
import type { CreateRoomBody } from './create-room.ts';
import { createRoom } from './create-room.ts';
import type { MembershipRequest, MembershipResult } from './membership.ts';
import { forgetRoom, updateMembership, updateMemberProfiles } from './membership.ts';
import type { SendRequest } from './sending.ts';
import { sendMessageEvent, sendStateEvent } from './sending.ts';
import type { StoredEvent } from './stored-event.ts';
import type { VisibleEvent } from './visibility.ts';
import { filterEventsForUser } from './visibility.ts';
import type { ClientEventSource } from './client-events.ts';
import { loadEventsForClient } from './client-events.ts';

export class RoomsService implements RoomsContext {
  readonly deps: RoomsDeps;
  readonly store: EventStore;
  readonly persister: EventPersister;
  readonly creator: EventCreator;
  readonly clock: () => number;
  /** Present when this process writes the `events` stream: what other processes' batches run on. */
  readonly localPersister: LocalEventPersister | undefined;

  constructor(deps: RoomsDeps) {
    this.deps = deps;
    this.clock = deps.clock ?? Date.now;
    this.store = new EventStore(deps.sql, { stateCacheEntries: deps.stateCacheEntries });
    this.localPersister = deps.eventsWriter
      ? new LocalEventPersister({
          sql: deps.sql,
          writer: deps.eventsWriter,
          state: this.store.state,
          serverName: deps.serverName,
          notify: deps.notify,
          log: deps.log,
          ...(deps.onPersisted ? { onPersisted: deps.onPersisted } : {}),
          ...(deps.deriveWithCommit ? { deriveWithCommit: deps.deriveWithCommit } : {}),
          maxDeltaChain: deps.maxStateDeltaChain,
          clock: this.clock,
        })
      : undefined;
    const persister = deps.persister ?? (deps.routePersist ? deps.routePersist(this.localPersister) : this.localPersister);
    if (!persister) throw new Error('the rooms domain needs an events writer, a persister or routePersist');
    this.persister = persister;
    this.creator = new EventCreator({
      store: this.store,
      persister: this.persister,
      serverName: deps.serverName,
      serverKey: deps.serverKey,
      log: deps.log,
      clock: this.clock,
    });
  }

  createRoom(creator: string, body: CreateRoomBody): Promise<{ roomId: string }> {
    return createRoom(this, creator, body);
  }

  sendMessageEvent(req: SendRequest): Promise<{ eventId: string }> {
    return sendMessageEvent(this, req);
  }

  sendStateEvent(req: { roomId: string; sender: string; type: string; stateKey: string; content: JsonObject }): Promise<{ eventId: string }> {
    return sendStateEvent(this, req);
  }

  updateMembership(req: MembershipRequest): Promise<MembershipResult> {
    return updateMembership(this, req);
  }

  forgetRoom(userId: string, roomId: string): Promise<void> {
    return forgetRoom(this, userId, roomId);
  }

  /** New member events with the user's new displayname/avatar_url in every room they are joined to. */
  updateMemberProfiles(userId: string, profile: MemberProfile): Promise<{ updated: number; failed: number }> {
    return updateMemberProfiles(this, userId, profile);
  }

  /** History visibility, batched (see visibility.ts). */
  filterEventsForUser(userId: string, events: readonly StoredEvent[]): Promise<VisibleEvent[]> {
    return filterEventsForUser(this.store, userId, events);
  }

  loadEventsForClient(events: Iterable<string | StoredEvent>): Promise<ClientEventSource[]> {
    return loadEventsForClient(this.store, events);
  }
}

export function createRoomsService(deps: RoomsDeps): RoomsService {
  return new RoomsService(deps);
}
