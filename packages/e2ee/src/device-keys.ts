/**
 * Device identity keys (`device_keys` of /keys/upload): they must describe the requesting device and be
 * signed by that device's own ed25519 key, which is what other users later trust them by.
 */
import { errors, MatrixError, type JsonObject } from '@hs/core';
import type { Sql, TransactionSql } from '@hs/storage';
import { canonicalOrBadJson, decodePublicKey, hasValidSignature, sameSignedContent } from './signed-json.ts';

/** Check uploaded device keys against the requester; returns the canonical JSON to store (without `unsigned`). */
export function checkDeviceKeys(deviceKeys: JsonObject, userId: string, deviceId: string): string {
  if (deviceKeys.user_id !== userId) {
    throw errors.badJson('Provided `user_id` in `device_keys` does not match that of the authenticated user');
  }
  if (deviceKeys.device_id !== deviceId) {
    throw errors.badJson('Provided `device_id` in `device_keys` does not match that of the authenticated user device');
  }
  const keyId = `ed25519:${deviceId}`;
  const keys = deviceKeys.keys as JsonObject;
  const publicKey = decodePublicKey(keys[keyId]);
  if (!publicKey) throw errors.invalidParam(`device_keys.keys must contain a valid ${keyId} key`);
  const { unsigned: _u, ...stored } = deviceKeys;
  const json = canonicalOrBadJson(stored, 'device_keys');
  if (!hasValidSignature(deviceKeys, userId, keyId, publicKey)) {
    throw new MatrixError(400, 'M_INVALID_SIGNATURE', `device_keys are not correctly signed by ${keyId}`);
  }
  return json;
}

/**
 * Store a device's keys; returns whether anything changed (only then do watchers need telling).
 * When the signed content changes, signatures others made of the old keys no longer apply.
 */
export async function storeDeviceKeys(tx: TransactionSql, userId: string, deviceId: string, json: string): Promise<boolean> {
  const [old] = await tx<{ key_json: string }[]>`
    SELECT key_json FROM e2e_device_keys WHERE user_id = ${userId} AND device_id = ${deviceId} FOR UPDATE`;
  if (old?.key_json === json) return false;
  await tx`
    INSERT INTO e2e_device_keys (user_id, device_id, key_json, ts_added_ms)
    VALUES (${userId}, ${deviceId}, ${json}, ${Date.now()})
    ON CONFLICT (user_id, device_id) DO UPDATE SET key_json = EXCLUDED.key_json, ts_added_ms = EXCLUDED.ts_added_ms`;
  if (old && !sameSignedContent(JSON.parse(old.key_json) as JsonObject, JSON.parse(json) as JsonObject)) {
    await tx`DELETE FROM e2e_cross_signing_signatures WHERE target_user_id = ${userId} AND target_key_id = ${deviceId}`;
  }
  return true;
}

export interface StoredDeviceKeys {
  readonly userId: string;
  readonly deviceId: string;
  readonly keys: JsonObject;
}

/** Stored device keys of these users, in one query. */
export async function getDeviceKeys(sql: Sql | TransactionSql, userIds: readonly string[]): Promise<StoredDeviceKeys[]> {
  if (userIds.length === 0) return [];
  const rows = await sql<{ user_id: string; device_id: string; key_json: string }[]>`
    SELECT user_id, device_id, key_json FROM e2e_device_keys WHERE user_id = ANY(${userIds as string[]}::text[])`;
  return rows.map((r) => ({ userId: r.user_id, deviceId: r.device_id, keys: JSON.parse(r.key_json) as JsonObject }));
}
