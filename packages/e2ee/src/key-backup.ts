/**
 * Server-side key backups (room_keys). Versions count up per user; only the newest live version takes
 * new keys. Writes for one user are serialised by a transaction-scoped advisory lock, so the version
 * check, the merge and the etag bump see one consistent backup. The etag counts changes to the keys.
 */
import { errors, MatrixError, type JsonObject } from '@hs/core';
import type { Sql, TransactionSql } from '@hs/storage';

/** Advisory-lock namespace for per-user backup writes (the two-int form; other users pick other numbers). */
const BACKUP_LOCK_NS = 0x6b62; // "kb"

export interface KeyBackupData {
  first_message_index: number;
  forwarded_count: number;
  is_verified: boolean;
  session_data: JsonObject;
}

export interface BackupVersionInfo {
  algorithm: string;
  auth_data: JsonObject;
  count: number;
  etag: string;
  version: string;
}

/** Our version IDs are integers; anything else names no backup (a 404, as Synapse answers). */
function parseVersion(version: string): number | undefined {
  return /^[0-9]{1,15}$/.test(version) ? Number(version) : undefined;
}

const unknownVersion = () => errors.notFound('Unknown backup version');

async function lockUser(tx: TransactionSql, userId: string): Promise<void> {
  await tx`SELECT pg_advisory_xact_lock(${BACKUP_LOCK_NS}, hashtext(${userId}))`;
}

async function currentVersion(sql: Sql | TransactionSql, userId: string): Promise<{ version: number; etag: number } | undefined> {
  const [row] = await sql<{ version: number; etag: number }[]>`
    SELECT version, etag FROM e2e_room_keys_versions WHERE user_id = ${userId} AND NOT deleted ORDER BY version DESC LIMIT 1`;
  return row;
}

async function liveVersion(sql: Sql | TransactionSql, userId: string, version: string): Promise<{ version: number; etag: number; algorithm: string; auth_data: string }> {
  const v = parseVersion(version);
  if (v === undefined) throw unknownVersion();
  const [row] = await sql<{ version: number; etag: number; algorithm: string; auth_data: string }[]>`
    SELECT version, etag, algorithm, auth_data FROM e2e_room_keys_versions WHERE user_id = ${userId} AND version = ${v} AND NOT deleted`;
  if (!row) throw unknownVersion();
  return row;
}

async function countKeys(sql: Sql | TransactionSql, userId: string, version: number): Promise<number> {
  const [row] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM e2e_room_keys WHERE user_id = ${userId} AND version = ${version}`;
  return Number(row?.n ?? 0);
}

export async function createBackupVersion(sql: Sql, userId: string, algorithm: string, authData: JsonObject): Promise<string> {
  return sql.begin(async (tx) => {
    await lockUser(tx, userId);
    const [row] = await tx<{ v: number }[]>`
      INSERT INTO e2e_room_keys_versions (user_id, version, algorithm, auth_data)
      SELECT ${userId}, COALESCE(MAX(version), 0) + 1, ${algorithm}, ${JSON.stringify(authData)}
      FROM e2e_room_keys_versions WHERE user_id = ${userId}
      RETURNING version AS v`;
    return String(row?.v);
  });
}

/** A version's description; `version` undefined means the current one. */
export async function getBackupVersion(sql: Sql, userId: string, version?: string): Promise<BackupVersionInfo> {
  let row: { version: number; etag: number; algorithm: string; auth_data: string };
  if (version === undefined) {
    const [cur] = await sql<{ version: number; etag: number; algorithm: string; auth_data: string }[]>`
      SELECT version, etag, algorithm, auth_data FROM e2e_room_keys_versions
      WHERE user_id = ${userId} AND NOT deleted ORDER BY version DESC LIMIT 1`;
    if (!cur) throw errors.notFound('No current backup version');
    row = cur;
  } else {
    row = await liveVersion(sql, userId, version);
  }
  return {
    algorithm: row.algorithm,
    auth_data: JSON.parse(row.auth_data) as JsonObject,
    count: await countKeys(sql, userId, row.version),
    etag: String(row.etag),
    version: String(row.version),
  };
}

/** Only `auth_data` changes; the algorithm must stay and a `version` in the body must match the path. */
export async function updateBackupVersion(
  sql: Sql,
  userId: string,
  version: string,
  body: { algorithm: string; auth_data: JsonObject; version?: string },
): Promise<void> {
  if (body.version !== undefined && body.version !== version) throw errors.invalidParam('Version in body does not match');
  await sql.begin(async (tx) => {
    await lockUser(tx, userId);
    const row = await liveVersion(tx, userId, version);
    if (row.algorithm !== body.algorithm) throw errors.invalidParam('Algorithm does not match');
    await tx`UPDATE e2e_room_keys_versions SET auth_data = ${JSON.stringify(body.auth_data)} WHERE user_id = ${userId} AND version = ${row.version}`;
  });
}

/** Delete a version and its keys; deleting an already deleted version succeeds, an unknown one is a 404. */
export async function deleteBackupVersion(sql: Sql, userId: string, version: string): Promise<void> {
  const v = parseVersion(version);
  if (v === undefined) throw unknownVersion();
  await sql.begin(async (tx) => {
    await lockUser(tx, userId);
    const updated = await tx`UPDATE e2e_room_keys_versions SET deleted = TRUE WHERE user_id = ${userId} AND version = ${v}`;
    if (updated.count === 0) throw unknownVersion();
    await tx`DELETE FROM e2e_room_keys WHERE user_id = ${userId} AND version = ${v}`;
  });
}

/**
 * Whether an uploaded key should replace the stored one (client-server API › Server-side key backups):
 * a verified key beats an unverified one; then the lower first_message_index wins; then the lower
 * forwarded_count. A key that is no better is kept as it is.
 */
export function shouldReplaceRoomKey(current: KeyBackupData, incoming: KeyBackupData): boolean {
  if (current.is_verified !== incoming.is_verified) return incoming.is_verified;
  if (current.first_message_index !== incoming.first_message_index) return incoming.first_message_index < current.first_message_index;
  return incoming.forwarded_count < current.forwarded_count;
}

export interface UploadedRoomKey {
  readonly roomId: string;
  readonly sessionId: string;
  readonly data: KeyBackupData;
}

/** Merge keys into the user's current backup; `version` must be that backup (else 403 or 404). */
export async function uploadRoomKeys(sql: Sql, userId: string, version: string, keys: readonly UploadedRoomKey[]): Promise<{ etag: string; count: number }> {
  return sql.begin(async (tx) => {
    await lockUser(tx, userId);
    const current = await currentVersion(tx, userId);
    if (!current) throw unknownVersion();
    if (parseVersion(version) !== current.version) {
      await liveVersion(tx, userId, version); // 404 when the named version does not exist (or was deleted)
      throw new MatrixError(403, 'M_WRONG_ROOM_KEYS_VERSION', 'Wrong backup version.', { current_version: String(current.version) });
    }
    // The same session twice in one body: the better of the two is the candidate.
    const candidates = new Map<string, UploadedRoomKey>();
    for (const k of keys) {
      const id = JSON.stringify([k.roomId, k.sessionId]);
      const prev = candidates.get(id);
      if (!prev || shouldReplaceRoomKey(prev.data, k.data)) candidates.set(id, k);
    }
    const list = [...candidates.values()];
    const existing = list.length === 0 ? [] : await tx<{ room_id: string; session_id: string; first_message_index: number; forwarded_count: number; is_verified: boolean }[]>`
      SELECT room_id, session_id, first_message_index, forwarded_count, is_verified FROM e2e_room_keys
      WHERE user_id = ${userId} AND version = ${current.version}
        AND (room_id, session_id) IN (SELECT * FROM unnest(${list.map((k) => k.roomId)}::text[], ${list.map((k) => k.sessionId)}::text[]))`;
    const stored = new Map(existing.map((r) => [JSON.stringify([r.room_id, r.session_id]), r]));
    const writes = list.filter((k) => {
      const old = stored.get(JSON.stringify([k.roomId, k.sessionId]));
      return !old || shouldReplaceRoomKey({ ...old, first_message_index: Number(old.first_message_index), forwarded_count: Number(old.forwarded_count), session_data: {} }, k.data);
    });
    let etag = current.etag;
    if (writes.length > 0) {
      await tx`
        -- Numbers and booleans travel as text arrays: postgres.js only infers array types for strings reliably.
        INSERT INTO e2e_room_keys (user_id, version, room_id, session_id, first_message_index, forwarded_count, is_verified, session_data)
        SELECT ${userId}, ${current.version}, r, s, f, c, v, d
        FROM unnest(${writes.map((k) => k.roomId)}::text[], ${writes.map((k) => k.sessionId)}::text[],
                    ${writes.map((k) => String(k.data.first_message_index))}::text[]::bigint[],
                    ${writes.map((k) => String(k.data.forwarded_count))}::text[]::bigint[],
                    ${writes.map((k) => String(k.data.is_verified))}::text[]::boolean[], ${writes.map((k) => JSON.stringify(k.data.session_data))}::text[])
          AS x(r, s, f, c, v, d)
        ON CONFLICT (user_id, version, room_id, session_id) DO UPDATE SET
          first_message_index = EXCLUDED.first_message_index, forwarded_count = EXCLUDED.forwarded_count,
          is_verified = EXCLUDED.is_verified, session_data = EXCLUDED.session_data`;
      etag += 1;
      await tx`UPDATE e2e_room_keys_versions SET etag = ${etag} WHERE user_id = ${userId} AND version = ${current.version}`;
    }
    return { etag: String(etag), count: await countKeys(tx, userId, current.version) };
  });
}

export interface RoomKeyRow {
  readonly roomId: string;
  readonly sessionId: string;
  readonly data: KeyBackupData;
}

/** Keys of a live backup version, optionally narrowed to a room or one session. */
export async function getRoomKeys(sql: Sql, userId: string, version: string, roomId?: string, sessionId?: string): Promise<RoomKeyRow[]> {
  const v = await liveVersion(sql, userId, version);
  const rows = await sql<{ room_id: string; session_id: string; first_message_index: number; forwarded_count: number; is_verified: boolean; session_data: string }[]>`
    SELECT room_id, session_id, first_message_index, forwarded_count, is_verified, session_data FROM e2e_room_keys
    WHERE user_id = ${userId} AND version = ${v.version}
      ${roomId !== undefined ? sql`AND room_id = ${roomId}` : sql``}
      ${sessionId !== undefined ? sql`AND session_id = ${sessionId}` : sql``}`;
  return rows.map((r) => ({
    roomId: r.room_id,
    sessionId: r.session_id,
    data: {
      first_message_index: Number(r.first_message_index),
      forwarded_count: Number(r.forwarded_count),
      is_verified: r.is_verified,
      session_data: JSON.parse(r.session_data) as JsonObject,
    },
  }));
}

/** Delete keys of a live version (all, a room's, or one session); the etag moves on. */
export async function deleteRoomKeys(sql: Sql, userId: string, version: string, roomId?: string, sessionId?: string): Promise<{ etag: string; count: number }> {
  return sql.begin(async (tx) => {
    await lockUser(tx, userId);
    const v = await liveVersion(tx, userId, version);
    await tx`
      DELETE FROM e2e_room_keys WHERE user_id = ${userId} AND version = ${v.version}
        ${roomId !== undefined ? tx`AND room_id = ${roomId}` : tx``}
        ${sessionId !== undefined ? tx`AND session_id = ${sessionId}` : tx``}`;
    const etag = v.etag + 1;
    await tx`UPDATE e2e_room_keys_versions SET etag = ${etag} WHERE user_id = ${userId} AND version = ${v.version}`;
    return { etag: String(etag), count: await countKeys(tx, userId, v.version) };
  });
}
