/** Lazy-loaded members (client-server-api › Lazy-loading room members): the senders' member events. */
import type { EventStore, StoredEvent } from '@hs/rooms';

/** The member events of `senders` in the state after `atEventId`, in one state read and one event read. */
export async function lazyMemberState(store: EventStore, atEventId: string, senders: Iterable<string>): Promise<StoredEvent[]> {
  const keys = [...new Set(senders)].map((s) => ['m.room.member', s] as const);
  if (keys.length === 0) return [];
  const state = await store.getStateAt(atEventId, keys);
  if (!state) return [];
  return store.getEventList([...state.values()]);
}
