/**
 * Sessions: `GET/POST /login` (`m.login.password` by user ID or localpart, `m.login.token`),
 * `/logout`, `/logout/all`, `/account/whoami` and `/refresh`. A failed password login says only
 * "Invalid username or password", and takes as long whether or not the user exists.
 */
import { MatrixError, errors } from '@hs/core';
import type { Handler, Requester } from '@hs/http';
import { clock, notifyDevicesChanged, refreshableLifetime, type AccountsDeps } from './deps.ts';
import { redeemLoginToken } from './login-tokens.ts';
import { verifyAgainstNothing, verifyPassword } from './password-hash.ts';
import { checkDeviceId } from './registration.ts';
import { deleteDevices, deleteOtherDevicesIn, insertTokens, issueLogin, loginResponse } from './sessions.ts';
import { tokenCacheFor } from './token-cache.ts';
import { hashToken } from './tokens.ts';
import { parseUserId, qualifyLoginUser } from './user-id.ts';
import { findUserForLogin, getUser } from './users-store.ts';

interface LoginBody {
  type: string;
  identifier?: { type: string; user?: unknown };
  user?: string;
  medium?: string;
  address?: string;
  password?: string;
  token?: string;
  device_id?: string;
  initial_device_display_name?: string;
  refresh_token?: boolean;
}

const INVALID_CREDENTIALS = 'Invalid username or password';

export function requireNotGuest(requester: Requester | undefined): Requester {
  if (!requester) throw errors.missingToken();
  if (requester.isGuest) throw new MatrixError(403, 'M_GUEST_ACCESS_FORBIDDEN', 'Guest access not allowed');
  return requester;
}

export function loginHandlers(deps: AccountsDeps): Record<string, Handler> {
  const now = clock(deps);

  /** The user a password login names, or a 403 that does not say what was wrong. */
  async function passwordLogin(body: LoginBody): Promise<string> {
    let user: string | undefined;
    if (body.identifier !== undefined) {
      const id = body.identifier;
      if (id.type === 'm.id.user') {
        if (typeof id.user !== 'string') throw errors.missingParam("User identifier is missing 'user' key");
        user = id.user;
      } else if (id.type === 'm.id.thirdparty' || id.type === 'm.id.phone') {
        // This server binds no third-party IDs to accounts, so none can log in.
        throw errors.forbidden(INVALID_CREDENTIALS);
      } else {
        throw new MatrixError(400, 'M_UNKNOWN', 'Unknown login identifier type');
      }
    } else if (body.user !== undefined) {
      user = body.user;
    } else if (body.medium !== undefined || body.address !== undefined) {
      throw errors.forbidden(INVALID_CREDENTIALS);
    } else {
      throw errors.invalidParam('Invalid login submission');
    }
    if (body.password === undefined) throw errors.missingParam('Missing parameter: password');
    const qualified = qualifyLoginUser(user, deps.serverName);
    const parsed = parseUserId(qualified);
    const row = parsed?.server === deps.serverName ? await findUserForLogin(deps.sql, qualified) : undefined;
    const ok = row?.password_hash
      ? await verifyPassword(body.password, row.password_hash)
      : await verifyAgainstNothing(body.password, deps.passwordHashing);
    if (!ok || !row) throw errors.forbidden(INVALID_CREDENTIALS);
    return row.user_id;
  }

  return {
    login_flows: () => ({ body: { flows: [{ type: 'm.login.password' }, { type: 'm.login.token' }] } }),

    login: async (ctx) => {
      const body = ctx.body as LoginBody;
      let userId: string;
      if (body.type === 'm.login.password') {
        userId = await passwordLogin(body);
      } else if (body.type === 'm.login.token') {
        if (body.token === undefined) throw errors.missingParam('Missing parameter: token');
        const owner = await redeemLoginToken(deps.sql, body.token, now());
        if (owner === undefined) throw errors.forbidden('Invalid login token');
        userId = owner;
      } else {
        throw new MatrixError(400, 'M_UNKNOWN', 'Unknown login type');
      }
      const user = await getUser(deps.sql, userId);
      if (!user || user.deactivated) throw new MatrixError(403, 'M_USER_DEACTIVATED', 'This account has been deactivated');
      const login = await issueLogin(deps, {
        userId,
        deviceId: checkDeviceId(body.device_id),
        initialDisplayName: body.initial_device_display_name,
        wantRefreshToken: body.refresh_token === true,
      });
      return { body: loginResponse(userId, deps.serverName, login) };
    },

    logout: async (ctx) => {
      const requester = requireNotGuest(ctx.requester);
      if (requester.deviceId !== undefined) {
        await deleteDevices(deps, requester.userId, [requester.deviceId]);
      } else {
        await deps.sql`DELETE FROM access_tokens WHERE id = ${requester.tokenId ?? -1}`;
        tokenCacheFor(deps.sql).invalidateUser(requester.userId);
      }
      return { body: {} };
    },

    logout_all: async (ctx) => {
      const requester = requireNotGuest(ctx.requester);
      const deleted = await deps.sql.begin(async (tx) => {
        const gone = await deleteOtherDevicesIn(tx, requester.userId, null);
        await tx`DELETE FROM access_tokens WHERE user_id = ${requester.userId}`;
        return gone;
      });
      tokenCacheFor(deps.sql).invalidateUser(requester.userId);
      await notifyDevicesChanged(deps, requester.userId, deleted);
      return { body: {} };
    },

    whoami: (ctx) => {
      const r = ctx.requester as Requester;
      return { body: { user_id: r.userId, ...(r.deviceId !== undefined ? { device_id: r.deviceId } : {}), is_guest: r.isGuest } };
    },

    refresh: async (ctx) => {
      const presented = (ctx.body as { refresh_token: string }).refresh_token;
      const t = now();
      const outcome = await deps.sql.begin(async (tx) => {
        const [old] = await tx<{ id: number; user_id: string; device_id: string; expiry_ts: number | null; next_token_id: number | null; superseded: boolean }[]>`
          SELECT r.id, r.user_id, r.device_id, r.expiry_ts, r.next_token_id,
                 (n.next_token_id IS NOT NULL OR EXISTS (
                    SELECT 1 FROM access_tokens a WHERE a.refresh_token_id = r.next_token_id AND a.used)) AS superseded
          FROM refresh_tokens r LEFT JOIN refresh_tokens n ON n.id = r.next_token_id
          WHERE r.token_hash = ${hashToken(presented)}
          FOR UPDATE OF r`;
        if (!old) return { error: errors.unknownToken('Unknown refresh token') };
        // The device still exists: the client may log in again on it (soft logout).
        if (old.superseded) return { error: errors.unknownToken('Refresh token has already been used', true) };
        if (old.expiry_ts !== null && old.expiry_ts <= t) return { error: errors.unknownToken('Refresh token has expired', true) };
        // Refreshing twice before using the result: the first, unused successor is dropped.
        if (old.next_token_id !== null) await tx`DELETE FROM refresh_tokens WHERE id = ${old.next_token_id}`;
        const issued = await insertTokens(tx, old.user_id, old.device_id, t, refreshableLifetime(deps) ?? null);
        if (issued.refreshTokenId !== undefined) {
          await tx`UPDATE refresh_tokens SET next_token_id = ${issued.refreshTokenId} WHERE id = ${old.id}`;
        }
        return { userId: old.user_id, issued };
      });
      if ('error' in outcome) throw outcome.error;
      tokenCacheFor(deps.sql).invalidateUser(outcome.userId);
      const { accessToken, refreshToken, expiresInMs } = outcome.issued;
      return {
        body: {
          access_token: accessToken,
          ...(refreshToken !== undefined ? { refresh_token: refreshToken } : {}),
          ...(expiresInMs !== undefined ? { expires_in_ms: expiresInMs } : {}),
        },
      };
    },
  };
}
