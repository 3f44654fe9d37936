/**
 * Synapse's shared-secret registration (`/_synapse/admin/v1/register`): GET hands out a nonce; POST
 * creates a user — optionally an admin — when its MAC proves knowledge of `registration_shared_secret`.
 * Nonces are single-use (spent even by a failed attempt) and expire after a minute. Works even when
 * open registration is off; disabled entirely when no secret is configured.
 */
import { MatrixError, errors } from '@hs/core';
import type { Handler } from '@hs/http';
import { clock, type AccountsDeps } from './deps.ts';
import { hashPassword } from './password-hash.ts';
import { MAX_PASSWORD_LENGTH } from './registration.ts';
import { issueLogin, loginResponse } from './sessions.ts';
import { macMatches, sharedSecretMac } from './shared-secret-mac.ts';
import { randomString } from './tokens.ts';
import { checkNewLocalpart } from './user-id.ts';
import { insertUser } from './users-store.ts';

export const NONCE_LIFETIME_MS = 60_000;
/** Synapse's user types. */
export const USER_TYPES: readonly string[] = ['support', 'bot'];

interface AdminRegisterBody {
  nonce: string;
  username: string;
  password: string;
  mac: string;
  admin?: boolean;
  user_type?: string | null;
  displayname?: string;
  inhibit_login?: boolean;
}

export function sharedSecretHandlers(deps: AccountsDeps): Record<string, Handler> {
  const now = clock(deps);
  const secret = (): string => {
    if (deps.registrationSharedSecret === null || deps.registrationSharedSecret === '') {
      throw new MatrixError(400, 'M_UNKNOWN', 'Shared secret registration is not enabled');
    }
    return deps.registrationSharedSecret;
  };

  return {
    admin_register_nonce: async () => {
      secret();
      const t = now();
      const nonce = randomString(64);
      await deps.sql`DELETE FROM shared_secret_nonces WHERE created_ts < ${t - NONCE_LIFETIME_MS}`;
      await deps.sql`INSERT INTO shared_secret_nonces (nonce, created_ts) VALUES (${nonce}, ${t})`;
      return { body: { nonce } };
    },

    admin_register: async (ctx) => {
      const key = secret();
      const body = ctx.body as AdminRegisterBody;
      const [spent] = await deps.sql<{ created_ts: number }[]>`DELETE FROM shared_secret_nonces WHERE nonce = ${body.nonce} RETURNING created_ts`;
      if (!spent || now() - spent.created_ts > NONCE_LIFETIME_MS) throw new MatrixError(400, 'M_UNKNOWN', 'unrecognised nonce');
      if (body.username.includes('\u0000') || body.username.length > MAX_PASSWORD_LENGTH) throw errors.invalidParam('Invalid username');
      if (body.password.includes('\u0000') || body.password.length > MAX_PASSWORD_LENGTH) throw errors.invalidParam('Invalid password');
      const userType = body.user_type ?? null;
      if (userType !== null && !USER_TYPES.includes(userType)) throw errors.invalidParam('Invalid user type');
      const admin = body.admin === true;
      const expected = sharedSecretMac(key, { nonce: body.nonce, username: body.username, password: body.password, admin, userType });
      if (!macMatches(expected, body.mac)) throw errors.forbidden('HMAC incorrect');

      const localpart = body.username.toLowerCase();
      const userId = checkNewLocalpart(localpart, deps.serverName);
      const passwordHash = await hashPassword(body.password, deps.passwordHashing);
      await deps.sql.begin((tx) =>
        insertUser(tx, { userId, passwordHash, admin, userType, displayname: body.displayname ?? localpart, now: now() }),
      );
      if (body.inhibit_login === true) return { body: { user_id: userId, home_server: deps.serverName } };
      const login = await issueLogin(deps, { userId });
      return { body: loginResponse(userId, deps.serverName, login) };
    },
  };
}
