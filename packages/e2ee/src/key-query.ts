/**
 * POST /keys/query for local users: device keys of existing devices (with their display names and the
 * self-signing signatures uploaded for them) and cross-signing keys, with the uploaded signatures the
 * requester may see merged in. The user-signing key is only ever shown to its owner.
 */
import type { JsonObject } from '@hs/core';
import type { Sql } from '@hs/storage';
import { getCrossSigningKeys, getVisibleSignatures, type StoredSignature } from './cross-signing.ts';
import { getDeviceKeys } from './device-keys.ts';
import type { ListedDevice } from './deps.ts';
import { addSignature } from './signed-json.ts';
import { dict } from './dict.ts';

export interface LocalKeyQueryResult {
  device_keys: Record<string, Record<string, JsonObject>>;
  master_keys: Record<string, JsonObject>;
  self_signing_keys: Record<string, JsonObject>;
  user_signing_keys: Record<string, JsonObject>;
}

function signaturesByTarget(sigs: readonly StoredSignature[]): Map<string, StoredSignature[]> {
  const out = new Map<string, StoredSignature[]>();
  for (const s of sigs) {
    const k = `${s.targetUserId}\u0000${s.targetKeyId}`;
    let list = out.get(k);
    if (!list) out.set(k, (list = []));
    list.push(s);
  }
  return out;
}

/**
 * `query` maps local user IDs to the device IDs wanted (empty: all). Every queried user appears in
 * `device_keys`, with an empty object when they have no (keyed) devices.
 */
export async function queryLocalKeys(
  sql: Sql,
  requester: string,
  query: ReadonlyMap<string, readonly string[]>,
  listDevices: (userIds: readonly string[]) => Promise<ListedDevice[]>,
): Promise<LocalKeyQueryResult> {
  const users = [...query.keys()];
  const result: LocalKeyQueryResult = { device_keys: dict(), master_keys: dict(), self_signing_keys: dict(), user_signing_keys: dict() };
  for (const u of users) result.device_keys[u] = dict();
  if (users.length === 0) return result;

  const [devices, deviceKeys, crossKeys, signatures] = await Promise.all([
    listDevices(users),
    getDeviceKeys(sql, users),
    getCrossSigningKeys(sql, users),
    getVisibleSignatures(sql, users, requester),
  ]);
  const existing = new Map(devices.map((d) => [`${d.userId}\u0000${d.deviceId}`, d]));
  const sigs = signaturesByTarget(signatures);

  for (const dk of deviceKeys) {
    const wanted = query.get(dk.userId);
    if (wanted && wanted.length > 0 && !wanted.includes(dk.deviceId)) continue;
    const device = existing.get(`${dk.userId}\u0000${dk.deviceId}`);
    if (!device) continue;
    const keys = dk.keys;
    // Devices are signed only by their owner's self-signing key; nobody else's signature applies.
    for (const s of sigs.get(`${dk.userId}\u0000${dk.deviceId}`) ?? []) {
      if (s.signerUserId === dk.userId) addSignature(keys, s.signerUserId, s.signerKeyId, s.signature);
    }
    keys.unsigned = device.displayName !== null ? { device_display_name: device.displayName } : {};
    (result.device_keys[dk.userId] as Record<string, JsonObject>)[dk.deviceId] = keys;
  }

  for (const k of crossKeys) {
    if (k.type === 'master') {
      for (const s of sigs.get(`${k.userId}\u0000${k.publicKey}`) ?? []) addSignature(k.key, s.signerUserId, s.signerKeyId, s.signature);
      result.master_keys[k.userId] = k.key;
    } else if (k.type === 'self_signing') {
      result.self_signing_keys[k.userId] = k.key;
    } else if (k.userId === requester) {
      result.user_signing_keys[k.userId] = k.key;
    }
  }
  return result;
}
