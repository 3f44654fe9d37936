/**
 * OpenID tokens: short-lived bearer tokens a user hands to a third party, which the party checks
 * against our federation `GET /openid/userinfo`. Only the token's SHA-256 is stored, so a database
 * leak exposes no usable token, and lookups compare hashes, which leaks nothing useful through timing.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Sql } from '@hs/storage';

/** Synapse's lifetime for OpenID tokens. */
export const OPENID_TOKEN_LIFETIME_MS = 3600 * 1000;

const hashToken = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');

export interface OpenIdToken {
  readonly access_token: string;
  readonly token_type: 'Bearer';
  readonly matrix_server_name: string;
  readonly expires_in: number;
}

/** Issue a token for `userId` valid for `lifetimeMs`; expired tokens are swept on the way. */
export async function issueOpenIdToken(
  sql: Sql,
  userId: string,
  serverName: string,
  opts: { now?: number; lifetimeMs?: number } = {},
): Promise<OpenIdToken> {
  const now = opts.now ?? Date.now();
  const lifetimeMs = opts.lifetimeMs ?? OPENID_TOKEN_LIFETIME_MS;
  const token = randomBytes(32).toString('base64url');
  await sql`DELETE FROM open_id_tokens WHERE ts_valid_until_ms <= ${now}`;
  await sql`INSERT INTO open_id_tokens (token_hash, user_id, ts_valid_until_ms) VALUES (${hashToken(token)}, ${userId}, ${now + lifetimeMs})`;
  return { access_token: token, token_type: 'Bearer', matrix_server_name: serverName, expires_in: Math.floor(lifetimeMs / 1000) };
}

/** The user an unexpired token was issued to, or null. For the federation userinfo endpoint. */
export async function validateOpenIdToken(sql: Sql, token: string, now: number = Date.now()): Promise<string | null> {
  if (typeof token !== 'string' || token.length === 0 || token.length > 512) return null;
  const [row] = await sql<{ user_id: string }[]>`
    SELECT user_id FROM open_id_tokens WHERE token_hash = ${hashToken(token)} AND ts_valid_until_ms > ${now}`;
  return row?.user_id ?? null;
}
