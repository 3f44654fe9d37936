/**
 * POST /keys/signatures/upload: each submitted object must equal the stored key apart from its
 * signatures, and carry a valid new signature —
 *   own devices, signed by the user's self-signing key;
 *   the user's own master key, signed by one of their devices;
 *   other users' master keys, signed by the user's user-signing key.
 * Each key that fails gets its own entry in `failures`; the rest are stored.
 */
import { errors, isJsonObject, MatrixError, type JsonObject } from '@hs/core';
import type { Sql } from '@hs/storage';
import { crossSigningKeyId, getCrossSigningKeys, type CrossSigningKey, type StoredSignature } from './cross-signing.ts';
import { getDeviceKeys, type StoredDeviceKeys } from './device-keys.ts';
import { decodePublicKey, hasValidSignature, sameSignedContent, signatureOf } from './signed-json.ts';
import { serverOfUserId } from './user-id.ts';
import { dict } from './dict.ts';

export type Failures = Record<string, Record<string, { errcode: string; error: string }>>;

export interface SignatureUploadResult {
  readonly signatures: StoredSignature[];
  readonly failures: Failures;
  /** Own device IDs (and master key ID) whose signatures changed: a device-list change for watchers. */
  readonly ownChangedKeyIds: string[];
  /** Other users whose master keys the uploader signed. */
  readonly signedUsers: string[];
}

const invalidSignature = (msg = 'Invalid signature') => new MatrixError(400, 'M_INVALID_SIGNATURE', msg);

function failureOf(e: MatrixError): { errcode: string; error: string } {
  return { errcode: e.errcode, error: e.message };
}

function addFailure(failures: Failures, userId: string, keyId: string, e: unknown): void {
  if (!(e instanceof MatrixError)) throw e;
  (failures[userId] ??= dict())[keyId] = failureOf(e);
}

export async function processSignatureUpload(sql: Sql, userId: string, body: Record<string, JsonObject>): Promise<SignatureUploadResult> {
  const failures: Failures = dict();
  const signatures: StoredSignature[] = [];
  const ownChangedKeyIds: string[] = [];
  const signedUsers: string[] = [];
  const otherUsers = Object.keys(body).filter((u) => u !== userId);
  const localOthers = otherUsers.filter((u) => serverOfUserId(u) !== undefined);

  const [crossKeys, ownDevices] = await Promise.all([
    getCrossSigningKeys(sql, [userId, ...localOthers]),
    body[userId] ? getDeviceKeys(sql, [userId]) : Promise.resolve([] as StoredDeviceKeys[]),
  ]);
  const keyOf = (u: string, type: CrossSigningKey['type']) => crossKeys.find((k) => k.userId === u && k.type === type);

  const own = body[userId];
  if (own) {
    const master = keyOf(userId, 'master');
    const selfSigning = keyOf(userId, 'self_signing');
    const devices = new Map(ownDevices.map((d) => [d.deviceId, d.keys]));
    for (const [keyId, signed] of Object.entries(own)) {
      try {
        if (!isJsonObject(signed)) throw errors.invalidParam('Signed key must be an object');
        if (master && keyId === master.publicKey) {
          signatures.push(...checkMasterSignedByDevices(userId, signed, master, devices));
        } else {
          signatures.push(checkDeviceSignedBySelfSigningKey(userId, keyId, signed, selfSigning, devices.get(keyId)));
        }
        ownChangedKeyIds.push(keyId);
      } catch (e) {
        addFailure(failures, userId, keyId, e);
      }
    }
  }

  const userSigning = keyOf(userId, 'user_signing');
  for (const target of otherUsers) {
    const submitted = body[target] ?? {};
    const master = keyOf(target, 'master');
    try {
      if (!userSigning) throw errors.notFound('No user_signing key found');
      if (!master) throw errors.notFound(`No master key found for ${target}`);
      if (!Object.hasOwn(submitted, master.publicKey)) throw errors.notFound('Unknown device');
    } catch (e) {
      for (const keyId of Object.keys(submitted)) addFailure(failures, target, keyId, e);
      continue;
    }
    for (const [keyId, signed] of Object.entries(submitted)) {
      try {
        if (keyId !== master.publicKey) throw errors.notFound('Unknown device');
        if (!isJsonObject(signed)) throw errors.invalidParam('Signed key must be an object');
        signatures.push(checkSignedBy(userId, signed, master.key, userSigning, target, keyId));
        signedUsers.push(target);
      } catch (e) {
        addFailure(failures, target, keyId, e);
      }
    }
  }
  return { signatures, failures, ownChangedKeyIds, signedUsers };
}

/** A signature of `stored` (owned by targetUser, key `targetKeyId`) by the uploader's cross-signing key `signer`. */
function checkSignedBy(
  userId: string,
  signed: JsonObject,
  stored: JsonObject,
  signer: CrossSigningKey,
  targetUserId: string,
  targetKeyId: string,
): StoredSignature {
  const signerKeyId = crossSigningKeyId(signer.publicKey);
  const signature = signatureOf(signed, userId, signerKeyId);
  if (signature === undefined) throw invalidSignature(`No signature by ${signerKeyId}`);
  if (!sameSignedContent(signed, stored)) throw errors.invalidParam('Key does not match');
  const publicKey = decodePublicKey(signer.publicKey);
  if (!publicKey || !hasValidSignature(signed, userId, signerKeyId, publicKey)) throw invalidSignature();
  return { signerUserId: userId, signerKeyId, targetUserId, targetKeyId, signature };
}

function checkDeviceSignedBySelfSigningKey(
  userId: string,
  deviceId: string,
  signed: JsonObject,
  selfSigning: CrossSigningKey | undefined,
  stored: JsonObject | undefined,
): StoredSignature {
  if (!selfSigning) throw errors.notFound('No self_signing key found');
  if (!stored) throw errors.notFound('Unknown device');
  return checkSignedBy(userId, signed, stored, selfSigning, userId, deviceId);
}

/**
 * The user's master key signed by their own devices. Every new signature must come from a device of
 * the user and verify against that device's ed25519 key; signatures the stored key already carries
 * are passed over.
 */
function checkMasterSignedByDevices(
  userId: string,
  signed: JsonObject,
  master: CrossSigningKey,
  devices: ReadonlyMap<string, JsonObject>,
): StoredSignature[] {
  const sigs = isJsonObject(signed.signatures) ? signed.signatures[userId] : undefined;
  if (!isJsonObject(sigs)) throw invalidSignature('No signature by the user');
  if (!sameSignedContent(signed, master.key)) throw errors.invalidParam('Key does not match');
  const out: StoredSignature[] = [];
  for (const [signerKeyId, signature] of Object.entries(sigs)) {
    if (signatureOf(master.key, userId, signerKeyId) === signature) continue;
    if (typeof signature !== 'string' || !signerKeyId.startsWith('ed25519:')) throw invalidSignature();
    const deviceId = signerKeyId.slice('ed25519:'.length);
    const device = devices.get(deviceId);
    const deviceKeys = device && isJsonObject(device.keys) ? device.keys : undefined;
    const publicKey = decodePublicKey(deviceKeys?.[signerKeyId]);
    if (!publicKey || !hasValidSignature(signed, userId, signerKeyId, publicKey)) throw invalidSignature();
    out.push({ signerUserId: userId, signerKeyId, targetUserId: userId, targetKeyId: master.publicKey, signature });
  }
  if (out.length === 0) throw invalidSignature('No new signature by a device of the user');
  return out;
}
