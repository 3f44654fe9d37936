/**
 * Profiles: display name and avatar URL of local users. Anyone may read them; only the user (or a
 * server admin) may change them, and guests may change only their display name. A change is passed
 * to `onProfileChanged` so rooms can update the user's member events.
 */
import { MatrixError, errors } from '@hs/core';
import type { Handler, Requester } from '@hs/http';
import type { Sql } from '@hs/storage';
import { runHook, type AccountsDeps, type Profile } from './deps.ts';
import { requireUserId } from './user-id.ts';

/** Synapse's limits. */
export const MAX_DISPLAYNAME_LENGTH = 256;
export const MAX_AVATAR_URL_LENGTH = 1000;

/** The profile of a local user, or null when there is no such user. */
export async function getProfile(sql: Sql, userId: string): Promise<Profile | null> {
  const [row] = await sql<{ displayname: string | null; avatar_url: string | null }[]>`
    SELECT p.displayname, p.avatar_url FROM users u LEFT JOIN profiles p ON p.user_id = u.user_id WHERE u.user_id = ${userId}`;
  if (!row) return null;
  return {
    ...(row.displayname !== null ? { displayname: row.displayname } : {}),
    ...(row.avatar_url !== null ? { avatar_url: row.avatar_url } : {}),
  };
}

type Field = 'displayname' | 'avatar_url';

export function profileHandlers(deps: AccountsDeps): Record<string, Handler> {
  const sql = deps.sql;

  async function localProfile(userId: string): Promise<Profile> {
    const { server } = requireUserId(userId);
    // Profiles of remote users arrive with federation queries; until then they are not known here.
    const profile = server === deps.serverName ? await getProfile(sql, userId) : null;
    if (!profile) throw errors.notFound('Profile was not found');
    return profile;
  }

  const getField = (field: Field): Handler => async (ctx) => {
    const profile = await localProfile(ctx.params.userId as string);
    const value = profile[field];
    if (value === undefined) throw errors.notFound(`The user has no ${field}`);
    return { body: { [field]: value } };
  };

  const putField = (field: Field): Handler => async (ctx) => {
    const requester = ctx.requester as Requester;
    const userId = ctx.params.userId as string;
    const { server } = requireUserId(userId);
    if (requester.userId !== userId && !requester.isAdmin) throw errors.forbidden(`Cannot set another user's ${field}`);
    if (server !== deps.serverName) throw errors.forbidden(`Cannot set the ${field} of a remote user`);
    if (field === 'avatar_url' && requester.isGuest) throw new MatrixError(403, 'M_GUEST_ACCESS_FORBIDDEN', 'Guests may only change their display name');
    const raw = (ctx.body as Record<Field, string>)[field];
    if (field === 'displayname' && raw.length > MAX_DISPLAYNAME_LENGTH) {
      throw new MatrixError(400, 'M_TOO_LARGE', `Display name is too long (max ${MAX_DISPLAYNAME_LENGTH})`);
    }
    if (field === 'avatar_url') {
      if (raw.length > MAX_AVATAR_URL_LENGTH) throw new MatrixError(400, 'M_TOO_LARGE', `Avatar URL is too long (max ${MAX_AVATAR_URL_LENGTH})`);
      if (raw !== '' && !/^mxc:\/\/[^/]+\/[^/]+$/.test(raw)) throw errors.invalidParam('avatar_url must be an mxc:// URI');
    }
    // An empty string clears the field.
    const value = raw === '' ? null : raw;
    const rows =
      field === 'displayname'
        ? await sql`
            INSERT INTO profiles (user_id, displayname) SELECT user_id, ${value} FROM users WHERE user_id = ${userId}
            ON CONFLICT (user_id) DO UPDATE SET displayname = EXCLUDED.displayname RETURNING user_id`
        : await sql`
            INSERT INTO profiles (user_id, avatar_url) SELECT user_id, ${value} FROM users WHERE user_id = ${userId}
            ON CONFLICT (user_id) DO UPDATE SET avatar_url = EXCLUDED.avatar_url RETURNING user_id`;
    if (rows.length === 0) throw errors.notFound('Profile was not found');
    if (deps.onProfileChanged) {
      const hook = deps.onProfileChanged;
      const profile = (await getProfile(sql, userId)) ?? {};
      await runHook(deps.log, 'onProfileChanged', () => hook(userId, profile));
    }
    return { body: {} };
  };

  return {
    profile_get: async (ctx) => ({ body: { ...(await localProfile(ctx.params.userId as string)) } }),
    profile_displayname_get: getField('displayname'),
    profile_displayname_put: putField('displayname'),
    profile_avatar_url_get: getField('avatar_url'),
    profile_avatar_url_put: putField('avatar_url'),
  };
}
