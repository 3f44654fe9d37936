/**
 * Access-token authentication for every endpoint with `auth: 'user' | 'admin'`. The token comes from
 * `Authorization: Bearer …` (or the deprecated `access_token` query parameter); its sha256 is looked up
 * with the user's flags. Missing → 401 M_MISSING_TOKEN, unknown → 401 M_UNKNOWN_TOKEN, expired →
 * 401 M_UNKNOWN_TOKEN with `soft_logout: true`. Deactivated users' tokens are refused.
 */
import type { Request } from 'express';
import { errors, type Logger } from '@hs/core';
import { queryString, type Authenticator, type Requester } from '@hs/http';
import type { Sql } from '@hs/storage';
import { LastSeenRecorder } from './last-seen.ts';
import { tokenCacheFor, type CachedToken } from './token-cache.ts';
import { hashToken } from './tokens.ts';

export interface AuthenticatorDeps {
  readonly sql: Sql;
  readonly log: Logger;
  readonly now?: () => number;
}

export interface AccountsAuthenticator extends Authenticator {
  /** Write pending last-seen updates now. */
  flushLastSeen(): Promise<void>;
  /** Stop the last-seen timer after a final flush (process shutdown). */
  close(): Promise<void>;
}

/** The access token of a request, or undefined when it carries none. */
export function accessTokenOf(req: Request): string | undefined {
  const header = req.headers.authorization;
  const query = queryString(req, 'access_token');
  if (header !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) throw errors.missingToken('Invalid Authorization header.');
    if (query !== undefined) throw errors.missingToken('Mixing Authorization headers and access_token query parameters.');
    return m[1];
  }
  return query === '' ? undefined : query;
}

interface TokenRow {
  id: number;
  user_id: string;
  device_id: string | null;
  valid_until_ms: number | null;
  used: boolean;
  refresh_token_id: number | null;
  admin: boolean;
  is_guest: boolean;
  deactivated: boolean;
}

/**
 * The first use of an access token issued by /refresh retires the refresh token it replaced (and,
 * through the foreign keys, that token's access tokens): "the old refresh token remains valid until
 * the new access token or refresh token is used".
 */
async function markFirstUse(sql: Sql, row: TokenRow): Promise<void> {
  await sql.begin(async (tx) => {
    const marked = await tx`UPDATE access_tokens SET used = TRUE WHERE id = ${row.id} AND NOT used RETURNING id`;
    if (marked.length > 0 && row.refresh_token_id !== null) {
      await tx`DELETE FROM refresh_tokens WHERE next_token_id = ${row.refresh_token_id}`;
    }
  });
}

export function createAuthenticator(deps: AuthenticatorDeps): AccountsAuthenticator {
  const now = deps.now ?? Date.now;
  const cache = tokenCacheFor(deps.sql);
  const lastSeen = new LastSeenRecorder(deps.sql, deps.log);

  // Cached under the token itself: hashing is only for looking it up in the database (sha256 on every
  // request was a few percent of a busy server's CPU).
  async function resolve(token: string, at: number): Promise<CachedToken> {
    const cached = cache.get(token, at);
    if (cached) return cached;
    const hash = hashToken(token);
    const [row] = await deps.sql<TokenRow[]>`
      SELECT t.id, t.user_id, t.device_id, t.valid_until_ms, t.used, t.refresh_token_id, u.admin, u.is_guest, u.deactivated
      FROM access_tokens t JOIN users u ON u.user_id = t.user_id
      WHERE t.token_hash = ${hash}`;
    if (!row || row.deactivated) throw errors.unknownToken();
    if (!row.used && row.refresh_token_id !== null) {
      await markFirstUse(deps.sql, row);
      // The retired tokens may sit in this process's cache.
      cache.invalidateUser(row.user_id);
    }
    const entry: CachedToken = {
      tokenId: row.id,
      userId: row.user_id,
      deviceId: row.device_id,
      validUntilMs: row.valid_until_ms,
      isAdmin: row.admin,
      isGuest: row.is_guest,
      fetchedAt: at,
    };
    cache.set(token, entry);
    return entry;
  }

  const authenticate = async (req: Request): Promise<Requester> => {
    const token = accessTokenOf(req);
    if (token === undefined) throw errors.missingToken();
    const at = now();
    const entry = await resolve(token, at);
    if (entry.validUntilMs !== null && entry.validUntilMs <= at) {
      throw errors.unknownToken('Access token has expired', true);
    }
    if (entry.deviceId !== null) {
      lastSeen.record(entry.userId, entry.deviceId, at, req.ip ?? null, req.get('user-agent') ?? null);
    }
    return {
      userId: entry.userId,
      ...(entry.deviceId !== null ? { deviceId: entry.deviceId } : {}),
      tokenId: entry.tokenId,
      isGuest: entry.isGuest,
      isAdmin: entry.isAdmin,
    };
  };

  return Object.assign(authenticate, {
    flushLastSeen: () => lastSeen.flush(),
    close: () => lastSeen.close(),
  });
}
