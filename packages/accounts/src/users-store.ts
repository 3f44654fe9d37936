/**
 * Reading and creating user rows. Creation writes the user and its profile (display name defaulting
 * to the localpart, as Synapse does) in one transaction; a duplicate ID surfaces as M_USER_IN_USE.
 */
import { MatrixError } from '@hs/core';
import type { Sql, TransactionSql } from '@hs/storage';

export interface UserRow {
  readonly user_id: string;
  readonly password_hash: string | null;
  readonly admin: boolean;
  readonly is_guest: boolean;
  readonly deactivated: boolean;
  readonly user_type: string | null;
}

/** The user with exactly this ID. */
export async function getUser(sql: Sql | TransactionSql, userId: string): Promise<UserRow | undefined> {
  const rows = await sql<UserRow[]>`
    SELECT user_id, password_hash, admin, is_guest, deactivated, user_type FROM users WHERE user_id = ${userId}`;
  return rows[0];
}

/** Case-insensitive lookup for logins: the exact match if there is one, else the single match by case. */
export async function findUserForLogin(sql: Sql, userId: string): Promise<UserRow | undefined> {
  const rows = await sql<UserRow[]>`
    SELECT user_id, password_hash, admin, is_guest, deactivated, user_type FROM users
    WHERE lower(user_id) = lower(${userId}) LIMIT 2`;
  return rows.find((r) => r.user_id === userId) ?? (rows.length === 1 ? rows[0] : undefined);
}

export async function userIdTaken(sql: Sql, userId: string): Promise<boolean> {
  const rows = await sql`SELECT 1 FROM users WHERE lower(user_id) = lower(${userId})`;
  return rows.length > 0;
}

export interface NewUser {
  readonly userId: string;
  readonly passwordHash: string | null;
  readonly admin?: boolean;
  readonly isGuest?: boolean;
  readonly userType?: string | null;
  readonly displayname: string | null;
  readonly now: number;
}

function isUniqueViolation(e: unknown): boolean {
  return (e as { code?: unknown }).code === '23505';
}

/** Insert the user and profile inside `tx`; M_USER_IN_USE when the ID (in any case) exists. */
export async function insertUser(tx: TransactionSql, u: NewUser): Promise<void> {
  try {
    await tx`
      INSERT INTO users (user_id, password_hash, creation_ts, admin, is_guest, user_type)
      VALUES (${u.userId}, ${u.passwordHash}, ${u.now}, ${u.admin ?? false}, ${u.isGuest ?? false}, ${u.userType ?? null})`;
  } catch (e) {
    // The transaction is aborted either way; the caller's begin() rolls it back.
    if (isUniqueViolation(e)) throw new MatrixError(400, 'M_USER_IN_USE', 'User ID already taken.');
    throw e;
  }
  await tx`INSERT INTO profiles (user_id, displayname) VALUES (${u.userId}, ${u.displayname})`;
}

/** The next number-only localpart nobody has (guests and registrations without a username). */
export async function generateLocalpart(sql: Sql, serverName: string): Promise<string> {
  for (;;) {
    const [row] = await sql<{ n: number }[]>`SELECT nextval('user_id_seq') AS n`;
    const localpart = String(row?.n);
    if (!(await userIdTaken(sql, `@${localpart}:${serverName}`))) return localpart;
  }
}
