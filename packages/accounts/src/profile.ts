/**
 * Profiles: display name, avatar URL and (spec v1.16) custom fields of local users. Anyone may read
 * them; only the user (or a server admin) may change them, and guests only their display name.
 * Display name and avatar changes go to `onProfileChanged` so rooms update the user's member events;
 * custom fields stay in the profile (as Synapse: they reach neither rooms nor the user directory).
 */
import type { JsonValue } from '@hs/core';
import { MatrixError, errors, isJsonObject } from '@hs/core';
import type { Handler, RequestContext, Requester } from '@hs/http';
import { runHook, type AccountsDeps } from './deps.ts';
import { getFullProfile, getProfile, getProfileField, isStandardField, writeProfileField, type StandardField } from './profile-store.ts';
import { requireUserId } from './user-id.ts';

/** Synapse's limits. */
export const MAX_DISPLAYNAME_LENGTH = 256;
export const MAX_AVATAR_URL_LENGTH = 1000;
/** The spec: profile keys are at most 255 bytes. */
export const MAX_PROFILE_KEY_BYTES = 255;
/** The Common Namespaced Identifier Grammar (appendices), which every profile key follows. */
const PROFILE_KEY = /^[a-z][a-z0-9_.-]*$/;

/** A profile key from a path: too long → 400 M_KEY_TOO_LARGE, off the grammar → 400 M_INVALID_PARAM. */
export function checkProfileKey(key: string): void {
  if (Buffer.byteLength(key) > MAX_PROFILE_KEY_BYTES) {
    throw new MatrixError(400, 'M_KEY_TOO_LARGE', `Profile keys are at most ${MAX_PROFILE_KEY_BYTES} bytes`);
  }
  if (!PROFILE_KEY.test(key)) throw errors.invalidParam('Invalid profile key: it must follow the Common Namespaced Identifier Grammar');
}

/** Check a new display name or avatar URL; '' clears the field (returned as undefined). */
function standardValue(field: StandardField, raw: unknown): string | undefined {
  if (typeof raw !== 'string') throw errors.badJson(`${field} must be a string`);
  if (field === 'displayname' && raw.length > MAX_DISPLAYNAME_LENGTH) {
    throw new MatrixError(400, 'M_TOO_LARGE', `Display name is too long (max ${MAX_DISPLAYNAME_LENGTH})`);
  }
  if (field === 'avatar_url') {
    if (raw.length > MAX_AVATAR_URL_LENGTH) throw new MatrixError(400, 'M_TOO_LARGE', `Avatar URL is too long (max ${MAX_AVATAR_URL_LENGTH})`);
    if (raw !== '' && !/^mxc:\/\/[^/]+\/[^/]+$/.test(raw)) throw errors.invalidParam('avatar_url must be an mxc:// URI');
  }
  return raw === '' ? undefined : raw;
}

export function profileHandlers(deps: AccountsDeps): Record<string, Handler> {
  const sql = deps.sql;

  /** A local user's ID from the path; remote users' profiles arrive with federation, absent so far. */
  function localTarget(ctx: RequestContext): { userId: string; local: boolean } {
    const userId = ctx.params.userId as string;
    const { server } = requireUserId(userId);
    return { userId, local: server === deps.serverName };
  }

  async function readField(ctx: RequestContext, key: string) {
    const { userId, local } = localTarget(ctx);
    const found = local ? await getProfileField(sql, userId, key) : null;
    if (!found) throw errors.notFound('Profile was not found');
    if (!('value' in found)) throw errors.notFound(`The user has no ${key}`);
    return { body: { [key]: found.value as JsonValue } };
  }

  /** Who may change `key` of the user in the path: themselves or an admin; guests only their display name. */
  function authorise(ctx: RequestContext, key: string): string {
    const requester = ctx.requester as Requester;
    const { userId, local } = localTarget(ctx);
    if (requester.userId !== userId && !requester.isAdmin) throw errors.forbidden(`Cannot change another user's ${key}`);
    if (!local) throw errors.forbidden(`Cannot change the ${key} of a remote user`);
    if (key !== 'displayname' && requester.isGuest) throw new MatrixError(403, 'M_GUEST_ACCESS_FORBIDDEN', 'Guests may only change their display name');
    return userId;
  }

  /** Write (or, with `value` undefined, remove) a field; display name and avatar changes reach rooms. */
  async function write(userId: string, key: string, value: JsonValue | undefined): Promise<void> {
    if (!(await writeProfileField(sql, userId, key, value))) throw errors.notFound('Profile was not found');
    if (isStandardField(key) && deps.onProfileChanged) {
      const hook = deps.onProfileChanged;
      const profile = (await getProfile(sql, userId)) ?? {};
      await runHook(deps.log, 'onProfileChanged', () => hook(userId, profile));
    }
  }

  const putStandard = (field: StandardField): Handler => async (ctx) => {
    const userId = authorise(ctx, field);
    await write(userId, field, standardValue(field, (ctx.body as Record<string, unknown>)[field]));
    return { body: {} };
  };

  return {
    profile_get: async (ctx) => {
      const { userId, local } = localTarget(ctx);
      const profile = local ? await getFullProfile(sql, userId) : null;
      if (!profile) throw errors.notFound('Profile was not found');
      return { body: profile };
    },
    profile_displayname_get: (ctx) => readField(ctx, 'displayname'),
    profile_displayname_put: putStandard('displayname'),
    profile_avatar_url_get: (ctx) => readField(ctx, 'avatar_url'),
    profile_avatar_url_put: putStandard('avatar_url'),

    profile_field_get: async (ctx) => {
      const key = ctx.params.keyName as string;
      checkProfileKey(key);
      return readField(ctx, key);
    },
    profile_field_put: async (ctx) => {
      const key = ctx.params.keyName as string;
      checkProfileKey(key);
      const userId = authorise(ctx, key);
      const body = ctx.body;
      if (!isJsonObject(body) || !Object.hasOwn(body, key)) throw errors.missingParam(`Missing key '${key}'`);
      const value = body[key] as JsonValue;
      if (isStandardField(key)) await write(userId, key, standardValue(key, value));
      else {
        // m.tz holds an IANA time zone name: a string (which one is the client's business, as the spec says).
        if (key === 'm.tz' && typeof value !== 'string') throw errors.badJson('m.tz must be a string');
        await write(userId, key, value);
      }
      return { body: {} };
    },
    profile_field_delete: async (ctx) => {
      const key = ctx.params.keyName as string;
      checkProfileKey(key);
      await write(authorise(ctx, key), key, undefined);
      return { body: {} };
    },
  };
}
