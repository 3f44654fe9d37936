/**
 * `invite_state` / `knock_state` (client-server-api › Stripped state): the room's create, join rules,
 * name, avatar, topic, canonical alias and encryption events as they were at the invite or knock,
 * reduced to `type`, `state_key`, `sender` and `content`, followed by the membership event itself (in
 * full, as Synapse sends it, so clients know who invited them and when). Invites received over
 * federation carry no state here; their `unsigned.invite_room_state` (or `knock_room_state`) is used,
 * pruned to the stripped shape.
 */
import type { JsonObject, JsonValue } from '@hs/core';
import { isJsonObject } from '@hs/core';
import type { EventStore, StoredEvent } from '@hs/rooms';
import type { StateFilter } from '@hs/rooms';

export const STRIPPED_STATE_FILTER: StateFilter = [
  ['m.room.create', ''],
  ['m.room.join_rules', ''],
  ['m.room.name', ''],
  ['m.room.avatar', ''],
  ['m.room.topic', ''],
  ['m.room.canonical_alias', ''],
  ['m.room.encryption', ''],
];

export function stripEvent(ev: { type: string; state_key?: unknown; sender: string; content?: unknown }): JsonObject {
  return { type: ev.type, state_key: typeof ev.state_key === 'string' ? ev.state_key : '', sender: ev.sender, content: isJsonObject(ev.content) ? ev.content : {} };
}

function strippedFromUnsigned(value: JsonValue | undefined): JsonObject[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((e) =>
    isJsonObject(e) && typeof e.type === 'string' && typeof e.sender === 'string' && typeof e.state_key === 'string'
      ? [stripEvent({ type: e.type, state_key: e.state_key, sender: e.sender, content: e.content })]
      : [],
  );
}

export interface StrippedRoom {
  /** The invite or knock event. */
  readonly event: StoredEvent;
  readonly stripped: JsonObject[];
}

/** Stripped state for each membership event (rooms whose event is unknown are left out). */
export async function loadStrippedState(store: EventStore, eventIds: readonly string[], unsignedField: 'invite_room_state' | 'knock_room_state'): Promise<Map<string, StrippedRoom>> {
  const out = new Map<string, StrippedRoom>();
  if (eventIds.length === 0) return out;
  const [events, groups] = await Promise.all([store.getEvents(eventIds), store.state.groupsForEvents(eventIds)]);
  const states = await store.state.groupsState([...new Set(groups.values())], STRIPPED_STATE_FILTER);
  const stateIds = new Set<string>();
  for (const m of states.values()) for (const id of m.values()) stateIds.add(id);
  const stateEvents = await store.getEvents(stateIds);
  for (const id of eventIds) {
    const ev = events.get(id);
    if (!ev) continue;
    const g = groups.get(id);
    const state = g === undefined ? undefined : states.get(g);
    let stripped: JsonObject[];
    if (state) {
      stripped = [];
      for (const sid of state.values()) {
        const se = stateEvents.get(sid);
        if (se) stripped.push(stripEvent({ type: se.type, state_key: se.stateKey, sender: se.sender, content: se.pdu.content }));
      }
    } else {
      const unsigned = isJsonObject(ev.pdu.unsigned) ? ev.pdu.unsigned : {};
      stripped = strippedFromUnsigned(unsigned[unsignedField]);
    }
    out.set(ev.roomId, { event: ev, stripped });
  }
  return out;
}
