/**
 * One-time and fallback keys. A one-time key is handed out at most once: the claim deletes it in the
 * same statement that picks it, skipping rows another claimer holds, so concurrent claimers never get
 * the same key. When a device has none left, its fallback key is handed out (and marked used) instead.
 */
import { errors, isJsonObject, type JsonObject, type JsonValue } from '@hs/core';
import type { Sql, TransactionSql } from '@hs/storage';
import { canonicalOrBadJson } from './signed-json.ts';

/** The algorithm whose count clients always expect, even at zero (as Synapse reports it). */
export const SIGNED_CURVE25519 = 'signed_curve25519';

export interface ParsedKey {
  readonly algorithm: string;
  readonly keyId: string;
  readonly value: JsonValue;
  /** Canonical JSON of `value`, as stored. */
  readonly json: string;
}

/** Split `algorithm:key_id` map entries; anything but exactly one colon is a 400 M_BAD_JSON (as Synapse). */
export function parseKeyMap(map: JsonObject, field: string): ParsedKey[] {
  const out: ParsedKey[] = [];
  for (const [name, value] of Object.entries(map)) {
    const parts = name.split(':');
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
      throw errors.badJson(`Invalid ${field} key ${JSON.stringify(name.slice(0, 100))}: expected "<algorithm>:<key_id>"`);
    }
    out.push({ algorithm: parts[0] as string, keyId: parts[1] as string, value, json: canonicalOrBadJson(value, `${field}.${name}`) });
  }
  return out;
}

/** The same one-time key, allowing different signatures (re-signing on a retried upload is legitimate). */
function sameOneTimeKey(storedJson: string, incoming: JsonValue): boolean {
  const stored = JSON.parse(storedJson) as JsonValue;
  if (!isJsonObject(stored) || !isJsonObject(incoming)) return JSON.stringify(stored) === JSON.stringify(incoming);
  return canonicalOrBadJson(unsignedSignatures(stored), 'key') === canonicalOrBadJson(unsignedSignatures(incoming), 'key');
}

function unsignedSignatures(obj: JsonObject): JsonObject {
  const { signatures: _s, ...rest } = obj;
  return rest;
}

/**
 * Store new one-time keys for a device inside `tx`. Re-uploading a key ID with the same key is a no-op;
 * with a different key it is a 400, as in Synapse. The caller holds the device's upload lock.
 */
export async function addOneTimeKeys(tx: TransactionSql, userId: string, deviceId: string, keys: readonly ParsedKey[]): Promise<void> {
  if (keys.length === 0) return;
  const algs = keys.map((k) => k.algorithm);
  const ids = keys.map((k) => k.keyId);
  const existing = await tx<{ algorithm: string; key_id: string; key_json: string }[]>`
    SELECT algorithm, key_id, key_json FROM e2e_one_time_keys
    WHERE user_id = ${userId} AND device_id = ${deviceId}
      AND (algorithm, key_id) IN (SELECT * FROM unnest(${algs}::text[], ${ids}::text[]))`;
  const known = new Map(existing.map((r) => [`${r.algorithm}:${r.key_id}`, r.key_json]));
  const fresh: ParsedKey[] = [];
  for (const k of keys) {
    const old = known.get(`${k.algorithm}:${k.keyId}`);
    if (old === undefined) fresh.push(k);
    else if (!sameOneTimeKey(old, k.value)) {
      throw errors.invalidParam(`One time key ${k.algorithm}:${k.keyId} already exists with different content`);
    }
  }
  if (fresh.length === 0) return;
  await tx`
    INSERT INTO e2e_one_time_keys (user_id, device_id, algorithm, key_id, key_json)
    SELECT ${userId}, ${deviceId}, a, i, j
    FROM unnest(${fresh.map((k) => k.algorithm)}::text[], ${fresh.map((k) => k.keyId)}::text[], ${fresh.map((k) => k.json)}::text[]) AS x(a, i, j)
    ON CONFLICT DO NOTHING`;
}

/**
 * Replace a device's fallback key per algorithm. Uploading the key it already has keeps its `used`
 * flag, so a client re-sending its current key cannot make a used key look fresh.
 */
export async function setFallbackKeys(tx: TransactionSql, userId: string, deviceId: string, keys: readonly ParsedKey[]): Promise<void> {
  const seen = new Set<string>();
  for (const k of keys) {
    if (seen.has(k.algorithm)) throw errors.invalidParam(`Only one fallback key per algorithm may be uploaded (${k.algorithm})`);
    seen.add(k.algorithm);
  }
  if (keys.length === 0) return;
  await tx`
    INSERT INTO e2e_fallback_keys (user_id, device_id, algorithm, key_id, key_json, used)
    SELECT ${userId}, ${deviceId}, a, i, j, FALSE
    FROM unnest(${keys.map((k) => k.algorithm)}::text[], ${keys.map((k) => k.keyId)}::text[], ${keys.map((k) => k.json)}::text[]) AS x(a, i, j)
    ON CONFLICT (user_id, device_id, algorithm) DO UPDATE
      SET key_id = EXCLUDED.key_id, key_json = EXCLUDED.key_json, used = FALSE
      WHERE e2e_fallback_keys.key_id IS DISTINCT FROM EXCLUDED.key_id OR e2e_fallback_keys.key_json IS DISTINCT FROM EXCLUDED.key_json`;
}

/** Unclaimed one-time keys per algorithm for a device; `signed_curve25519` is always present. */
export async function getOneTimeKeyCounts(sql: Sql | TransactionSql, userId: string, deviceId: string): Promise<Record<string, number>> {
  const rows = await sql<{ algorithm: string; n: number }[]>`
    SELECT algorithm, count(*)::int AS n FROM e2e_one_time_keys
    WHERE user_id = ${userId} AND device_id = ${deviceId} GROUP BY algorithm`;
  // fromEntries defines own properties, so an algorithm called `__proto__` stays an ordinary entry.
  return Object.fromEntries([[SIGNED_CURVE25519, 0], ...rows.map((r) => [r.algorithm, Number(r.n)] as const)]);
}

export interface DeviceKeyCounts {
  /** Unclaimed one-time keys per algorithm; `signed_curve25519` is always present. */
  readonly oneTimeKeys: Record<string, number>;
  /** Algorithms for which the device has a fallback key that no claim has handed out yet. */
  readonly unusedFallbackKeyTypes: string[];
}

/** What every /sync reports about the device's keys, in one round trip. */
export async function getDeviceKeyCounts(sql: Sql, userId: string, deviceId: string): Promise<DeviceKeyCounts> {
  const rows = await sql<{ fallback: boolean; algorithm: string; n: number }[]>`
    SELECT false AS fallback, algorithm, count(*)::int AS n FROM e2e_one_time_keys
    WHERE user_id = ${userId} AND device_id = ${deviceId} GROUP BY algorithm
    UNION ALL
    SELECT true, algorithm, 0 FROM e2e_fallback_keys
    WHERE user_id = ${userId} AND device_id = ${deviceId} AND NOT used`;
  const counts: Array<[string, number]> = [[SIGNED_CURVE25519, 0]];
  const fallback: string[] = [];
  for (const r of rows) {
    if (r.fallback) fallback.push(r.algorithm);
    else counts.push([r.algorithm, Number(r.n)]);
  }
  // fromEntries defines own properties, so an algorithm called `__proto__` stays an ordinary entry.
  return { oneTimeKeys: Object.fromEntries(counts), unusedFallbackKeyTypes: fallback.sort() };
}

export interface ClaimRequest {
  readonly userId: string;
  readonly deviceId: string;
  readonly algorithm: string;
}

export interface ClaimedKey extends ClaimRequest {
  readonly keyId: string;
  readonly key: JsonValue;
  readonly fallback: boolean;
}

/**
 * Claim one key per (user, device, algorithm): the oldest one-time key, else the fallback key.
 * One statement picks and deletes; `SKIP LOCKED` makes a concurrent claimer take the next key rather
 * than wait for (and then lose) the one already being claimed.
 */
export async function claimKeys(sql: Sql, requests: readonly ClaimRequest[]): Promise<ClaimedKey[]> {
  if (requests.length === 0) return [];
  const users = requests.map((r) => r.userId);
  const devices = requests.map((r) => r.deviceId);
  const algs = requests.map((r) => r.algorithm);
  const otks = await sql<{ user_id: string; device_id: string; algorithm: string; key_id: string; key_json: string }[]>`
    DELETE FROM e2e_one_time_keys k
    USING (
      SELECT p.user_id, p.device_id, p.algorithm, p.key_id
      FROM unnest(${users}::text[], ${devices}::text[], ${algs}::text[]) AS c(user_id, device_id, algorithm)
      CROSS JOIN LATERAL (
        SELECT o.user_id, o.device_id, o.algorithm, o.key_id FROM e2e_one_time_keys o
        WHERE o.user_id = c.user_id AND o.device_id = c.device_id AND o.algorithm = c.algorithm
        ORDER BY o.seq LIMIT 1
        FOR UPDATE SKIP LOCKED
      ) p
    ) picked
    WHERE k.user_id = picked.user_id AND k.device_id = picked.device_id AND k.algorithm = picked.algorithm AND k.key_id = picked.key_id
    RETURNING k.user_id, k.device_id, k.algorithm, k.key_id, k.key_json`;
  const out: ClaimedKey[] = otks.map((r) => ({
    userId: r.user_id,
    deviceId: r.device_id,
    algorithm: r.algorithm,
    keyId: r.key_id,
    key: JSON.parse(r.key_json) as JsonValue,
    fallback: false,
  }));
  const got = new Set(otks.map((r) => `${r.user_id}\u0000${r.device_id}\u0000${r.algorithm}`));
  const missing = requests.filter((r) => !got.has(`${r.userId}\u0000${r.deviceId}\u0000${r.algorithm}`));
  if (missing.length === 0) return out;
  const fallbacks = await sql<{ user_id: string; device_id: string; algorithm: string; key_id: string; key_json: string }[]>`
    UPDATE e2e_fallback_keys f SET used = TRUE
    FROM unnest(${missing.map((r) => r.userId)}::text[], ${missing.map((r) => r.deviceId)}::text[], ${missing.map((r) => r.algorithm)}::text[])
      AS c(user_id, device_id, algorithm)
    WHERE f.user_id = c.user_id AND f.device_id = c.device_id AND f.algorithm = c.algorithm
    RETURNING f.user_id, f.device_id, f.algorithm, f.key_id, f.key_json`;
  for (const r of fallbacks) {
    out.push({
      userId: r.user_id,
      deviceId: r.device_id,
      algorithm: r.algorithm,
      keyId: r.key_id,
      key: JSON.parse(r.key_json) as JsonValue,
      fallback: true,
    });
  }
  return out;
}
