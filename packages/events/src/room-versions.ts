/**
 * One table of what differs between room versions 1–12. Every version-dependent branch in
 * this package reads a flag from here instead of comparing version strings.
 */
export interface RoomVersion {
  readonly id: string;
  /** How event IDs are made: carried on the wire (v1–2), standard base64 (v3), URL-safe base64 (v4+). */
  readonly eventIdFormat: 'wire' | 'base64' | 'urlsafe-base64';
  /** Which redaction key list applies. */
  readonly redaction: 'v1' | 'v6' | 'v8' | 'v9' | 'v11';
  /** Which state resolution algorithm applies. */
  readonly stateRes: 'v1' | 'v2' | 'v2.1';
  /** v6+: reject non-canonical JSON (big integers, floats). */
  readonly strictCanonicalJson: boolean;
  /** v5+: a signing key's valid_until_ts must cover the event's origin_server_ts. */
  readonly enforceKeyValidity: boolean;
  /** v1–2: the auth rules check the redact level / event ID domains of m.room.redaction. */
  readonly redactionAuthRule: boolean;
  /** v1–5: special auth rule for m.room.aliases. */
  readonly specialCaseAliasesAuth: boolean;
  /** v6+: `notifications` in power levels is checked like other keys. */
  readonly limitNotificationsPowerLevels: boolean;
  /** v7+: the `knock` membership and join rule. */
  readonly knock: boolean;
  /** v8+: the `restricted` join rule. */
  readonly restrictedJoinRule: boolean;
  /** v9+: `join_authorised_via_users_server` is kept by redaction. */
  readonly restrictedJoinRuleFix: boolean;
  /** v10+: the `knock_restricted` join rule. */
  readonly knockRestrictedJoinRule: boolean;
  /** v10+: power level values must be integers, not strings. */
  readonly integerPowerLevels: boolean;
  /** v11+: the create event has no `creator`; its sender is the creator. */
  readonly implicitRoomCreator: boolean;
  /** v11+: `redacts` lives in content and top-level `origin`/`membership`/`prev_state` are dropped. */
  readonly redactsInContent: boolean;
  /** v11+: IDs over 255 bytes are dropped; v1–10 only ever counted code points (see pdu-format.ts). */
  readonly strictIdByteLimits: boolean;
  /** v12: the room ID is derived from the create event, which has no room_id. */
  readonly roomIdFromCreateEvent: boolean;
  /** v12: creators (create sender + additional_creators) have infinite power. */
  readonly privilegedCreators: boolean;
}

const v1: RoomVersion = {
  id: '1',
  eventIdFormat: 'wire',
  redaction: 'v1',
  stateRes: 'v1',
  strictCanonicalJson: false,
  enforceKeyValidity: false,
  redactionAuthRule: true,
  specialCaseAliasesAuth: true,
  limitNotificationsPowerLevels: false,
  knock: false,
  restrictedJoinRule: false,
  restrictedJoinRuleFix: false,
  knockRestrictedJoinRule: false,
  integerPowerLevels: false,
  implicitRoomCreator: false,
  redactsInContent: false,
  strictIdByteLimits: false,
  roomIdFromCreateEvent: false,
  privilegedCreators: false,
};
const v2: RoomVersion = { ...v1, id: '2', stateRes: 'v2' };
const v3: RoomVersion = { ...v2, id: '3', eventIdFormat: 'base64', redactionAuthRule: false };
const v4: RoomVersion = { ...v3, id: '4', eventIdFormat: 'urlsafe-base64' };
const v5: RoomVersion = { ...v4, id: '5', enforceKeyValidity: true };
const v6: RoomVersion = {
  ...v5,
  id: '6',
  redaction: 'v6',
  strictCanonicalJson: true,
  specialCaseAliasesAuth: false,
  limitNotificationsPowerLevels: true,
};
const v7: RoomVersion = { ...v6, id: '7', knock: true };
const v8: RoomVersion = { ...v7, id: '8', redaction: 'v8', restrictedJoinRule: true };
const v9: RoomVersion = { ...v8, id: '9', redaction: 'v9', restrictedJoinRuleFix: true };
const v10: RoomVersion = { ...v9, id: '10', knockRestrictedJoinRule: true, integerPowerLevels: true };
const v11: RoomVersion = {
  ...v10,
  id: '11',
  redaction: 'v11',
  implicitRoomCreator: true,
  redactsInContent: true,
  strictIdByteLimits: true,
};
const v12: RoomVersion = { ...v11, id: '12', stateRes: 'v2.1', roomIdFromCreateEvent: true, privilegedCreators: true };

export const ROOM_VERSIONS: ReadonlyMap<string, RoomVersion> = new Map(
  [v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12].map((v) => [v.id, v]),
);

/** The spec recommends creating new rooms as version 12. */
export const DEFAULT_ROOM_VERSION = '12';

export function getRoomVersion(id: string): RoomVersion | undefined {
  return ROOM_VERSIONS.get(id);
}
