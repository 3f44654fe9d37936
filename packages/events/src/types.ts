import type { JsonObject } from '@hs/core';

/** Signatures block: server name → key ID → unpadded base64 signature. */
export type Signatures = Record<string, Record<string, string>>;

/** Room versions 1 and 2 reference events as `[event_id, {sha256: hash}]` pairs; v3+ by bare event ID. */
export type EventReference = string | [string, Record<string, string>];

/**
 * A PDU as it travels between servers, in any room version's format. Fields that only some
 * versions carry are optional; `packages/events` validates the shape per version before use.
 */
export interface PDU {
  event_id?: string;
  room_id?: string;
  sender: string;
  origin?: string;
  origin_server_ts: number;
  type: string;
  state_key?: string;
  content: JsonObject;
  prev_events: EventReference[];
  auth_events: EventReference[];
  depth: number;
  hashes: { sha256: string } & Record<string, string>;
  signatures: Signatures;
  unsigned?: JsonObject;
  redacts?: string;
  membership?: string;
  prev_state?: EventReference[];
  [key: string]: unknown;
}

/**
 * The version-independent view of an event that auth rules and state resolution work on:
 * the event ID is always known (computed for v3+), references are bare IDs.
 */
export interface EventView {
  readonly event_id: string;
  /** For a room v12 create event this is derived from its event ID. */
  readonly room_id: string;
  readonly type: string;
  readonly state_key?: string;
  readonly sender: string;
  readonly content: JsonObject;
  readonly origin_server_ts: number;
  readonly depth: number;
  readonly auth_events: readonly string[];
  readonly prev_events: readonly string[];
  /** `redacts` of an m.room.redaction, top-level (v1–10) or in content (v11+). */
  readonly redacts?: string;
  /** Set when the event was rejected; rejected events are never used for auth. */
  readonly rejected?: boolean;
}

/** (type, state_key) — the key of a state map. Encoded as `type\u0000state_key` in maps. */
export type StateKey = string;

export function stateKey(type: string, key: string): StateKey {
  return `${type}\u0000${key}`;
}

export function splitStateKey(k: StateKey): [string, string] {
  const i = k.indexOf('\u0000');
  return [k.slice(0, i), k.slice(i + 1)];
}

/** A state map: (type, state_key) → event ID. */
export type StateMap = ReadonlyMap<StateKey, string>;
