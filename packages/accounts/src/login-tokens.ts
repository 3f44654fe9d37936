/**
 * Short-lived, single-use login tokens for `m.login.token` (issued by SSO or `login/get_token` when
 * those exist). Only the hash is stored; redeeming one marks it used in the same statement that checks
 * it, so two concurrent logins cannot both succeed with it.
 */
import type { Sql } from '@hs/storage';
import { hashToken, newToken } from './tokens.ts';

/** Synapse's default login-token lifetime. */
export const LOGIN_TOKEN_LIFETIME_MS = 2 * 60 * 1000;

export async function createLoginToken(sql: Sql, userId: string, opts: { now?: number; lifetimeMs?: number } = {}): Promise<string> {
  const now = opts.now ?? Date.now();
  const token = newToken('login');
  await sql`
    INSERT INTO login_tokens (token_hash, user_id, expiry_ts)
    VALUES (${hashToken(token)}, ${userId}, ${now + (opts.lifetimeMs ?? LOGIN_TOKEN_LIFETIME_MS)})`;
  return token;
}

/** The user a valid, unused token logs in; the token is spent. Undefined for anything else. */
export async function redeemLoginToken(sql: Sql, token: string, now: number): Promise<string | undefined> {
  const [row] = await sql<{ user_id: string }[]>`
    UPDATE login_tokens SET used_ts = ${now}
    WHERE token_hash = ${hashToken(token)} AND used_ts IS NULL AND expiry_ts > ${now}
    RETURNING user_id`;
  // Spent and expired tokens are of no further use; keep the table small.
  await sql`DELETE FROM login_tokens WHERE expiry_ts <= ${now}`;
  return row?.user_id;
}
