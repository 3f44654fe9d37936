/**
 * The redaction algorithm, per room version (rooms/fragments/v1-, v6-, v9-, v11-redactions.md and
 * rooms/v8.md). It decides what signatures and reference hashes (hence event IDs) cover, so every
 * key list below must match the spec exactly — a wrong list breaks interop silently.
 */
import type { JsonObject, JsonValue } from '@hs/core';
import { isJsonObject, setOwnProperty } from '@hs/core';
import type { RoomVersion } from './room-versions.ts';
import type { EventView } from './types.ts';

/** Top-level keys kept by room versions 1–10. */
const TOP_LEVEL_V1 = [
  'event_id',
  'type',
  'room_id',
  'sender',
  'state_key',
  'content',
  'hashes',
  'signatures',
  'depth',
  'prev_events',
  'prev_state',
  'auth_events',
  'origin',
  'origin_server_ts',
  'membership',
] as const;

/** Room versions 11+ no longer protect `origin`, `membership` and `prev_state`. */
const TOP_LEVEL_V11 = [
  'event_id',
  'type',
  'room_id',
  'sender',
  'state_key',
  'content',
  'hashes',
  'signatures',
  'depth',
  'prev_events',
  'auth_events',
  'origin_server_ts',
] as const;

type ContentRule = readonly string[] | 'all';

const POWER_LEVELS_V1 = ['ban', 'events', 'events_default', 'kick', 'redact', 'state_default', 'users', 'users_default'];

/** Content keys kept, per redaction algorithm and event type. */
const CONTENT_RULES: Record<RoomVersion['redaction'], Record<string, ContentRule>> = {
  v1: {
    'm.room.member': ['membership'],
    'm.room.create': ['creator'],
    'm.room.join_rules': ['join_rule'],
    'm.room.power_levels': POWER_LEVELS_V1,
    'm.room.aliases': ['aliases'],
    'm.room.history_visibility': ['history_visibility'],
  },
  // v6: m.room.aliases loses its protection.
  v6: {
    'm.room.member': ['membership'],
    'm.room.create': ['creator'],
    'm.room.join_rules': ['join_rule'],
    'm.room.power_levels': POWER_LEVELS_V1,
    'm.room.history_visibility': ['history_visibility'],
  },
  // v8: join rules keep `allow` (restricted rooms).
  v8: {
    'm.room.member': ['membership'],
    'm.room.create': ['creator'],
    'm.room.join_rules': ['join_rule', 'allow'],
    'm.room.power_levels': POWER_LEVELS_V1,
    'm.room.history_visibility': ['history_visibility'],
  },
  // v9: member events keep the restricted-join authoriser.
  v9: {
    'm.room.member': ['membership', 'join_authorised_via_users_server'],
    'm.room.create': ['creator'],
    'm.room.join_rules': ['join_rule', 'allow'],
    'm.room.power_levels': POWER_LEVELS_V1,
    'm.room.history_visibility': ['history_visibility'],
  },
  // v11: create keeps everything, power levels keep `invite`, redactions keep `redacts`;
  // member `third_party_invite.signed` is handled separately below.
  v11: {
    'm.room.member': ['membership', 'join_authorised_via_users_server'],
    'm.room.create': 'all',
    'm.room.join_rules': ['join_rule', 'allow'],
    'm.room.power_levels': [...POWER_LEVELS_V1, 'invite'],
    'm.room.history_visibility': ['history_visibility'],
    'm.room.redaction': ['redacts'],
  },
};

/**
 * Apply the redaction algorithm of `roomVersion` to an event (any JSON object; PDUs included).
 * Returns a new object; kept values are shared with the input, not copied. `unsigned` is dropped
 * like every other unlisted key — callers re-add whatever unsigned data they want to serve.
 */
export function redactEvent<T extends object>(event: T, roomVersion: RoomVersion): T {
  const src = event as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  const keep = roomVersion.redaction === 'v11' ? TOP_LEVEL_V11 : TOP_LEVEL_V1;
  for (const key of keep) {
    if (key === 'content' || !Object.hasOwn(src, key)) continue;
    const value = src[key];
    if (value !== undefined) out[key] = value;
  }
  out.content = redactContent(src.type, src.content, roomVersion);
  return out as T;
}

function redactContent(type: unknown, content: unknown, roomVersion: RoomVersion): JsonObject {
  const kept: JsonObject = {};
  // A malformed (non-object) content redacts to {}, as Synapse does.
  if (!isJsonObject(content) || typeof type !== 'string') return kept;
  const rules = CONTENT_RULES[roomVersion.redaction];
  const rule = Object.hasOwn(rules, type) ? rules[type] : undefined;
  if (rule === undefined) return kept;
  if (rule === 'all') {
    for (const key of Object.keys(content)) {
      const v = content[key];
      if (v !== undefined) setOwnProperty(kept, key, v);
    }
    return kept;
  }
  for (const key of rule) {
    if (!Object.hasOwn(content, key)) continue;
    const v = content[key];
    if (v !== undefined) kept[key] = v;
  }
  if (roomVersion.redaction === 'v11' && type === 'm.room.member' && Object.hasOwn(content, 'third_party_invite')) {
    // Keep only `signed` of an object `third_party_invite`; an object without it stays as {}
    // (what Synapse signs), a non-object is dropped.
    const tpi = content.third_party_invite;
    if (isJsonObject(tpi)) {
      const slim: JsonObject = {};
      if (Object.hasOwn(tpi, 'signed') && tpi.signed !== undefined) slim.signed = tpi.signed as JsonValue;
      kept.third_party_invite = slim;
    }
  }
  return kept;
}

/** The event a redaction targets: top-level `redacts` in v1–10, `content.redacts` in v11+. */
export function redactsOf(event: { redacts?: unknown; content?: unknown }, roomVersion: RoomVersion): string | undefined {
  const value = roomVersion.redactsInContent
    ? isJsonObject(event.content)
      ? event.content.redacts
      : undefined
    : event.redacts;
  return typeof value === 'string' ? value : undefined;
}

/** The server name of a user ID, event ID or room ID (`sigil localpart:server`). */
export function serverNameOf(id: string): string | undefined {
  const i = id.indexOf(':');
  return i < 0 ? undefined : id.slice(i + 1);
}

export type RedactionDecision =
  | { readonly apply: true; readonly reason: 'power' | 'same_server' }
  | {
      readonly apply: false;
      readonly reason: 'not_a_redaction' | 'wrong_target' | 'wrong_room' | 'not_permitted';
    };

/**
 * Whether a received (and accepted) redaction should be applied to `target`
 * (rooms/fragments/v3-handling-redactions.md): the redacter has the redact power level, or the
 * two senders are on the same server. Rooms v1–2 checked this in auth rule 11, by event ID
 * domain; applying that rule here too lets callers treat every version alike.
 *
 * `hasRedactPower` answers "is the redaction sender's power level ≥ the redact level?"; it is
 * injected so this module does not depend on the auth rules, and only consulted when the
 * server check fails. Both events are views (see `toEventView`), so `redacts` is normalised.
 */
export function checkRedactionAllowed(
  redaction: EventView,
  target: EventView,
  roomVersion: RoomVersion,
  hasRedactPower: boolean | (() => boolean),
): RedactionDecision {
  if (redaction.type !== 'm.room.redaction') return { apply: false, reason: 'not_a_redaction' };
  if (redaction.redacts !== target.event_id) return { apply: false, reason: 'wrong_target' };
  if (redaction.room_id !== target.room_id) return { apply: false, reason: 'wrong_room' };
  const [a, b] =
    roomVersion.eventIdFormat === 'wire'
      ? [serverNameOf(redaction.event_id), serverNameOf(target.event_id)]
      : [serverNameOf(redaction.sender), serverNameOf(target.sender)];
  if (a !== undefined && a === b) return { apply: true, reason: 'same_server' };
  const power = typeof hasRedactPower === 'function' ? hasRedactPower() : hasRedactPower;
  return power ? { apply: true, reason: 'power' } : { apply: false, reason: 'not_permitted' };
}
