/**
 * GET /capabilities: what this server lets users do, from configuration. Every room version we
 * implement is stable; the default is the configured one when we know it, else the spec's choice.
 */
import type { JsonObject } from '@hs/core';
import { DEFAULT_ROOM_VERSION, ROOM_VERSIONS } from '@hs/events';

export interface CapabilityOptions {
  /** Password changes (false when passwords are managed elsewhere). */
  readonly changePassword: boolean;
  readonly setDisplayname: boolean;
  readonly setAvatarUrl: boolean;
  /** Adding and removing third-party identifiers. */
  readonly threepidChanges: boolean;
  /** POST /login/get_token. */
  readonly getLoginToken: boolean;
  /** Rooms are forgotten automatically when the user leaves (Synapse's `forget_rooms_on_leave`). */
  readonly forgetForcedUponLeave: boolean;
  /**
   * Profile fields beyond displayname and avatar_url may be set (v1.16 extended profiles, served by
   * @hs/accounts at /profile/{userId}/{keyName}). Off: `m.profile_fields` allows only the two standard ones.
   */
  readonly customProfileFields: boolean;
  /** The room version new rooms get (config `default_room_version`). */
  readonly defaultRoomVersion: string;
}

export const DEFAULT_CAPABILITIES: CapabilityOptions = {
  changePassword: true,
  setDisplayname: true,
  setAvatarUrl: true,
  threepidChanges: false,
  getLoginToken: false,
  forgetForcedUponLeave: false,
  customProfileFields: true,
  defaultRoomVersion: DEFAULT_ROOM_VERSION,
};

export function buildCapabilities(options: Partial<CapabilityOptions> = {}): JsonObject {
  const o = { ...DEFAULT_CAPABILITIES, ...options };
  const available: JsonObject = {};
  for (const id of ROOM_VERSIONS.keys()) available[id] = 'stable';
  const defaultVersion = ROOM_VERSIONS.has(o.defaultRoomVersion) ? o.defaultRoomVersion : DEFAULT_ROOM_VERSION;
  // The extended-profile capability must agree with the two deprecated ones it supersedes.
  const standard = [...(o.setDisplayname ? ['displayname'] : []), ...(o.setAvatarUrl ? ['avatar_url'] : [])];
  const disallowed = [...(o.setDisplayname ? [] : ['displayname']), ...(o.setAvatarUrl ? [] : ['avatar_url'])];
  let profileFields: JsonObject;
  if (!o.customProfileFields) profileFields = standard.length > 0 ? { enabled: true, allowed: standard } : { enabled: false };
  else profileFields = disallowed.length > 0 ? { enabled: true, disallowed } : { enabled: true };
  return {
    capabilities: {
      'm.change_password': { enabled: o.changePassword },
      'm.room_versions': { default: defaultVersion, available },
      'm.set_displayname': { enabled: o.setDisplayname },
      'm.set_avatar_url': { enabled: o.setAvatarUrl },
      'm.3pid_changes': { enabled: o.threepidChanges },
      'm.get_login_token': { enabled: o.getLoginToken },
      'm.forget_forced_upon_leave': { enabled: o.forgetForcedUponLeave },
      'm.profile_fields': profileFields,
    },
  };
}
