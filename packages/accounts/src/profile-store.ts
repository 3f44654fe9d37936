/**
 * Profile storage: displayname and avatar_url in `profiles`, every other (custom, v1.16) field in
 * `profile_fields` as JSON text. A write locks the user's `profiles` row and checks the whole profile
 * against the spec's 64 KiB ceiling before it commits, so concurrent writes cannot overshoot it.
 */
import type { JsonObject, JsonValue } from '@hs/core';
import { CanonicalJsonError, MatrixError, canonicalJson, errors } from '@hs/core';
import type { Sql } from '@hs/storage';
import type { Profile } from './deps.ts';

/** The spec: a profile (as JSON) must stay under 64 KiB. */
export const MAX_PROFILE_BYTES = 64 * 1024;

/** The two fields `profiles` holds as columns; the rest live in `profile_fields`. */
export type StandardField = 'displayname' | 'avatar_url';

export function isStandardField(key: string): key is StandardField {
  return key === 'displayname' || key === 'avatar_url';
}

/** The profile member events carry (displayname and avatar_url), or null when there is no such user. */
export async function getProfile(sql: Sql, userId: string): Promise<Profile | null> {
  const [row] = await sql<{ displayname: string | null; avatar_url: string | null }[]>`
    SELECT p.displayname, p.avatar_url FROM users u LEFT JOIN profiles p ON p.user_id = u.user_id WHERE u.user_id = ${userId}`;
  if (!row) return null;
  return {
    ...(row.displayname !== null ? { displayname: row.displayname } : {}),
    ...(row.avatar_url !== null ? { avatar_url: row.avatar_url } : {}),
  };
}

/** Every field of a local user's profile, custom ones included; null when there is no such user. */
export async function getFullProfile(sql: Sql, userId: string): Promise<JsonObject | null> {
  const [profile, fields] = await Promise.all([
    getProfile(sql, userId),
    sql<{ field: string; value: string }[]>`SELECT field, value FROM profile_fields WHERE user_id = ${userId} ORDER BY field`,
  ]);
  if (!profile) return null;
  const out: JsonObject = { ...profile };
  for (const f of fields) out[f.field] = JSON.parse(f.value) as JsonValue;
  return out;
}

/** One field: `{ value }` when set, `{}` when the user has no such field, null when there is no such user. */
export async function getProfileField(sql: Sql, userId: string, key: string): Promise<{ value?: JsonValue } | null> {
  if (isStandardField(key)) {
    const profile = await getProfile(sql, userId);
    if (!profile) return null;
    const value = profile[key];
    return value === undefined ? {} : { value };
  }
  const [row] = await sql<{ value: string | null }[]>`
    SELECT f.value FROM users u LEFT JOIN profile_fields f ON f.user_id = u.user_id AND f.field = ${key}
    WHERE u.user_id = ${userId}`;
  if (!row) return null;
  return row.value === null ? {} : { value: JSON.parse(row.value) as JsonValue };
}

/** A custom field's value as stored: its canonical JSON (numbers as Synapse would re-encode them). */
function encodeValue(value: JsonValue): string {
  try {
    return canonicalJson(value, { lenientNumbers: true });
  } catch (e) {
    if (e instanceof CanonicalJsonError) throw errors.badJson(`The profile field value cannot be stored: ${e.message}`);
    throw e;
  }
}

/** Bytes of `{"key":value,…}` for the profile these entries make (values already JSON text). */
function profileBytes(entries: ReadonlyMap<string, string>): number {
  let bytes = 2 + Math.max(0, entries.size - 1);
  for (const [k, v] of entries) bytes += Buffer.byteLength(JSON.stringify(k)) + 1 + Buffer.byteLength(v);
  return bytes;
}

/**
 * Set (`value` given; null stores null, except for the standard fields where it clears them) or
 * delete (`value` undefined) one field. Returns false when there is no such user.
 */
export async function writeProfileField(sql: Sql, userId: string, key: string, value: JsonValue | undefined): Promise<boolean> {
  const encoded = value === undefined || isStandardField(key) ? undefined : encodeValue(value);
  return sql.begin(async (tx) => {
    await tx`INSERT INTO profiles (user_id) SELECT user_id FROM users WHERE user_id = ${userId} ON CONFLICT (user_id) DO NOTHING`;
    const [current] = await tx<{ displayname: string | null; avatar_url: string | null }[]>`
      SELECT displayname, avatar_url FROM profiles WHERE user_id = ${userId} FOR UPDATE`;
    if (!current) return false;
    // Setting may grow the profile (clearing a standard field or deleting one cannot): check it as it will be.
    const grows = isStandardField(key) ? typeof value === 'string' : value !== undefined;
    if (grows) {
      const fields = await tx<{ field: string; value: string }[]>`SELECT field, value FROM profile_fields WHERE user_id = ${userId}`;
      const entries = new Map(fields.map((f) => [f.field, f.value]));
      if (current.displayname !== null) entries.set('displayname', JSON.stringify(current.displayname));
      if (current.avatar_url !== null) entries.set('avatar_url', JSON.stringify(current.avatar_url));
      entries.set(key, encoded ?? JSON.stringify(value as string));
      if (profileBytes(entries) > MAX_PROFILE_BYTES) {
        throw new MatrixError(400, 'M_PROFILE_TOO_LARGE', `The profile would exceed ${MAX_PROFILE_BYTES} bytes`);
      }
    }
    if (key === 'displayname') {
      await tx`UPDATE profiles SET displayname = ${typeof value === 'string' ? value : null} WHERE user_id = ${userId}`;
    } else if (key === 'avatar_url') {
      await tx`UPDATE profiles SET avatar_url = ${typeof value === 'string' ? value : null} WHERE user_id = ${userId}`;
    } else if (encoded === undefined) {
      await tx`DELETE FROM profile_fields WHERE user_id = ${userId} AND field = ${key}`;
    } else {
      await tx`
        INSERT INTO profile_fields (user_id, field, value) VALUES (${userId}, ${key}, ${encoded})
        ON CONFLICT (user_id, field) DO UPDATE SET value = EXCLUDED.value`;
    }
    return true;
  });
}
