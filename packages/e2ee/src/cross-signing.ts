/**
 * Cross-signing keys (master, self-signing, user-signing) and the signatures uploaded for keys.
 * A key object names exactly one key, `ed25519:<public key>`; self-signing and user-signing keys
 * must carry a valid signature by the user's master key.
 */
import { errors, MatrixError, type JsonObject } from '@hs/core';
import type { Sql, TransactionSql } from '@hs/storage';
import { canonicalOrBadJson, decodePublicKey, hasValidSignature } from './signed-json.ts';

export const CROSS_SIGNING_KEY_TYPES = ['master', 'self_signing', 'user_signing'] as const;
export type CrossSigningKeyType = (typeof CROSS_SIGNING_KEY_TYPES)[number];

export interface CrossSigningKey {
  readonly userId: string;
  readonly type: CrossSigningKeyType;
  /** Unpadded base64 ed25519 public key. */
  readonly publicKey: string;
  readonly key: JsonObject;
}

/** `ed25519:<public key>`, the ID signatures by this key are filed under. */
export function crossSigningKeyId(publicKey: string): string {
  return `ed25519:${publicKey}`;
}

/** The public key a cross-signing key object names, or undefined when it is not exactly one ed25519 key. */
export function publicKeyOfCrossSigningKey(key: JsonObject): string | undefined {
  const keys = key.keys;
  if (typeof keys !== 'object' || keys === null || Array.isArray(keys)) return undefined;
  const entries = Object.entries(keys);
  if (entries.length !== 1) return undefined;
  const [name, value] = entries[0] as [string, unknown];
  if (typeof value !== 'string' || name !== `ed25519:${value}` || !decodePublicKey(value)) return undefined;
  return value;
}

/**
 * Check an uploaded cross-signing key: owner, usage, one well-formed ed25519 key, and — when `signer`
 * is given — a valid signature by it. Returns the public key.
 */
export function checkCrossSigningKey(
  key: JsonObject,
  userId: string,
  type: CrossSigningKeyType,
  signer?: { publicKey: string },
): string {
  const usage = key.usage;
  const publicKey = publicKeyOfCrossSigningKey(key);
  if (key.user_id !== userId || !Array.isArray(usage) || !usage.includes(type) || publicKey === undefined) {
    throw errors.invalidParam(`Invalid ${type} key`);
  }
  canonicalOrBadJson(key, `${type} key`);
  if (signer) {
    const signerKey = decodePublicKey(signer.publicKey);
    if (!signerKey || !hasValidSignature(key, userId, crossSigningKeyId(signer.publicKey), signerKey)) {
      throw new MatrixError(400, 'M_INVALID_SIGNATURE', `Invalid signature on ${type} key`);
    }
  }
  return publicKey;
}

/** The stored cross-signing keys of these users (optionally only some types), in one query. */
export async function getCrossSigningKeys(
  sql: Sql | TransactionSql,
  userIds: readonly string[],
  types: readonly CrossSigningKeyType[] = CROSS_SIGNING_KEY_TYPES,
): Promise<CrossSigningKey[]> {
  if (userIds.length === 0) return [];
  const rows = await sql<{ user_id: string; key_type: CrossSigningKeyType; public_key: string; key_json: string }[]>`
    SELECT user_id, key_type, public_key, key_json FROM e2e_cross_signing_keys
    WHERE user_id = ANY(${userIds as string[]}::text[]) AND key_type = ANY(${types as string[]}::text[])`;
  return rows.map((r) => ({ userId: r.user_id, type: r.key_type, publicKey: r.public_key, key: JSON.parse(r.key_json) as JsonObject }));
}

/**
 * Replace one of a user's cross-signing keys. Signatures made by the key it replaces (self-signing of
 * devices, user-signing of others) and signatures of a replaced master key are dropped with it.
 */
export async function storeCrossSigningKey(tx: TransactionSql, userId: string, type: CrossSigningKeyType, publicKey: string, key: JsonObject): Promise<void> {
  const [old] = await tx<{ public_key: string }[]>`
    SELECT public_key FROM e2e_cross_signing_keys WHERE user_id = ${userId} AND key_type = ${type} FOR UPDATE`;
  await tx`
    INSERT INTO e2e_cross_signing_keys (user_id, key_type, public_key, key_json)
    VALUES (${userId}, ${type}, ${publicKey}, ${canonicalOrBadJson(key, `${type} key`)})
    ON CONFLICT (user_id, key_type) DO UPDATE SET public_key = EXCLUDED.public_key, key_json = EXCLUDED.key_json`;
  if (!old || old.public_key === publicKey) return;
  if (type === 'master') {
    await tx`DELETE FROM e2e_cross_signing_signatures WHERE target_user_id = ${userId} AND target_key_id = ${old.public_key}`;
  } else {
    await tx`DELETE FROM e2e_cross_signing_signatures WHERE signer_user_id = ${userId} AND signer_key_id = ${crossSigningKeyId(old.public_key)}`;
  }
}

export interface StoredSignature {
  readonly signerUserId: string;
  readonly signerKeyId: string;
  readonly targetUserId: string;
  readonly targetKeyId: string;
  readonly signature: string;
}

export async function storeSignatures(sql: Sql, all: readonly StoredSignature[]): Promise<void> {
  // One row per key: a statement may not upsert the same row twice.
  const byKey = new Map(all.map((s) => [JSON.stringify([s.targetUserId, s.targetKeyId, s.signerUserId, s.signerKeyId]), s]));
  const signatures = [...byKey.values()];
  if (signatures.length === 0) return;
  await sql`
    INSERT INTO e2e_cross_signing_signatures (signer_user_id, signer_key_id, target_user_id, target_key_id, signature)
    SELECT * FROM unnest(
      ${signatures.map((s) => s.signerUserId)}::text[], ${signatures.map((s) => s.signerKeyId)}::text[],
      ${signatures.map((s) => s.targetUserId)}::text[], ${signatures.map((s) => s.targetKeyId)}::text[],
      ${signatures.map((s) => s.signature)}::text[])
    ON CONFLICT (target_user_id, target_key_id, signer_user_id, signer_key_id) DO UPDATE SET signature = EXCLUDED.signature`;
}

/**
 * Uploaded signatures of these users' keys that `viewer` may see: those made by the key owner
 * themselves, and those `viewer` made (other users' user-signing signatures stay private).
 */
export async function getVisibleSignatures(sql: Sql, targetUserIds: readonly string[], viewer: string): Promise<StoredSignature[]> {
  if (targetUserIds.length === 0) return [];
  const rows = await sql<{ signer_user_id: string; signer_key_id: string; target_user_id: string; target_key_id: string; signature: string }[]>`
    SELECT signer_user_id, signer_key_id, target_user_id, target_key_id, signature FROM e2e_cross_signing_signatures
    WHERE target_user_id = ANY(${targetUserIds as string[]}::text[])
      AND (signer_user_id = target_user_id OR signer_user_id = ${viewer})`;
  return rows.map((r) => ({
    signerUserId: r.signer_user_id,
    signerKeyId: r.signer_key_id,
    targetUserId: r.target_user_id,
    targetKeyId: r.target_key_id,
    signature: r.signature,
  }));
}
