/**
 * Registration tokens (spec: token-authenticated registration; Synapse's Admin API to manage them).
 * A token is valid while it has not expired and `pending + completed < uses_allowed`; a UIA session
 * that passes the stage holds one `pending` use until registration completes (→ `completed`).
 */
import { randomInt } from 'node:crypto';
import { MatrixError, errors } from '@hs/core';
import { queryBool, type Handler } from '@hs/http';
import type { Sql, TransactionSql } from '@hs/storage';
import { clock, type AccountsDeps } from './deps.ts';

interface TokenRow {
  token: string;
  uses_allowed: number | null;
  pending: number;
  completed: number;
  expiry_time: number | null;
}

export async function registrationTokenIsValid(sql: Sql, token: string, now: number): Promise<boolean> {
  const rows = await sql`
    SELECT 1 FROM registration_tokens
    WHERE token = ${token}
      AND (uses_allowed IS NULL OR pending + completed < uses_allowed)
      AND (expiry_time IS NULL OR expiry_time > ${now})`;
  return rows.length > 0;
}

/** Registration finished with this token: its held use becomes a completed one. */
export async function completeRegistrationTokenUse(tx: TransactionSql, token: string): Promise<void> {
  await tx`UPDATE registration_tokens SET pending = GREATEST(pending - 1, 0), completed = completed + 1 WHERE token = ${token}`;
}

const TOKEN_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-';

function randomToken(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += TOKEN_CHARS[randomInt(TOKEN_CHARS.length)];
  return out;
}

function tokenJson(row: TokenRow): Record<string, unknown> {
  return { token: row.token, uses_allowed: row.uses_allowed, pending: row.pending, completed: row.completed, expiry_time: row.expiry_time };
}

function notFound(token: string): MatrixError {
  return errors.notFound(`No such registration token: ${token}`);
}

function checkExpiry(expiry: unknown, now: number): void {
  if (typeof expiry === 'number' && expiry < now) throw errors.invalidParam('expiry_time must not be in the past');
}

/** Handlers of `/_synapse/admin/v1/registration_tokens…` (admin only; the app checks `auth: 'admin'`). */
export function registrationTokenAdminHandlers(deps: AccountsDeps): Record<string, Handler> {
  const sql = deps.sql;
  const now = clock(deps);
  return {
    admin_registration_tokens_list: async (ctx) => {
      const valid = queryBool(ctx.req, 'valid');
      const t = now();
      const rows = await sql<TokenRow[]>`
        SELECT token, uses_allowed, pending, completed, expiry_time FROM registration_tokens
        WHERE ${valid === undefined}
           OR ((uses_allowed IS NULL OR pending + completed < uses_allowed) AND (expiry_time IS NULL OR expiry_time > ${t})) = ${valid ?? true}
        ORDER BY token`;
      return { body: { registration_tokens: rows.map(tokenJson) } };
    },
    admin_registration_token_get: async (ctx) => {
      const token = ctx.params.token as string;
      const [row] = await sql<TokenRow[]>`SELECT token, uses_allowed, pending, completed, expiry_time FROM registration_tokens WHERE token = ${token}`;
      if (!row) throw notFound(token);
      return { body: tokenJson(row) };
    },
    admin_registration_token_new: async (ctx) => {
      const body = ctx.body as { token?: string; uses_allowed?: number | null; expiry_time?: number | null; length?: number };
      checkExpiry(body.expiry_time, now());
      const given = body.token !== undefined;
      // A random token that collides is drawn again; a chosen one that exists is the caller's error.
      for (let attempt = 0; attempt < 5; attempt++) {
        const token = body.token ?? randomToken(body.length ?? 16);
        const rows = await sql<TokenRow[]>`
          INSERT INTO registration_tokens (token, uses_allowed, expiry_time)
          VALUES (${token}, ${body.uses_allowed ?? null}, ${body.expiry_time ?? null})
          ON CONFLICT (token) DO NOTHING
          RETURNING token, uses_allowed, pending, completed, expiry_time`;
        if (rows[0]) return { body: tokenJson(rows[0]) };
        if (given) throw errors.invalidParam(`Token already exists: ${token}`);
      }
      throw new MatrixError(500, 'M_UNKNOWN', 'Could not generate an unused token; try a longer length');
    },
    admin_registration_token_update: async (ctx) => {
      const token = ctx.params.token as string;
      const body = ctx.body as { uses_allowed?: number | null; expiry_time?: number | null };
      checkExpiry(body.expiry_time, now());
      const setUses = 'uses_allowed' in body;
      const setExpiry = 'expiry_time' in body;
      const [row] = await sql<TokenRow[]>`
        UPDATE registration_tokens
        SET uses_allowed = CASE WHEN ${setUses} THEN ${body.uses_allowed ?? null}::integer ELSE uses_allowed END,
            expiry_time = CASE WHEN ${setExpiry} THEN ${body.expiry_time ?? null}::bigint ELSE expiry_time END
        WHERE token = ${token}
        RETURNING token, uses_allowed, pending, completed, expiry_time`;
      if (!row) throw notFound(token);
      return { body: tokenJson(row) };
    },
    admin_registration_token_delete: async (ctx) => {
      const token = ctx.params.token as string;
      const rows = await sql`DELETE FROM registration_tokens WHERE token = ${token} RETURNING token`;
      if (rows.length === 0) throw notFound(token);
      return { body: {} };
    },
  };
}
