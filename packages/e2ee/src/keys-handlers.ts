/** Handlers of /keys/*: upload, query, claim, changes, signatures/upload and device_signing/upload. */
import { decodeSyncToken, errors, MatrixError, TokenError, type JsonObject, type SyncToken } from '@hs/core';
import { queryString, type Handler, type RequestContext } from '@hs/http';
import type { TransactionSql } from '@hs/storage';
import {
  checkCrossSigningKey,
  CROSS_SIGNING_KEY_TYPES,
  getCrossSigningKeys,
  storeCrossSigningKey,
  storeSignatures,
  type CrossSigningKeyType,
} from './cross-signing.ts';
import type { E2eeDeps } from './deps.ts';
import { deviceListUpdatesBetween } from './device-list-changes.ts';
import type { DeviceListUpdater } from './device-lists.ts';
import { checkDeviceKeys, storeDeviceKeys } from './device-keys.ts';
import { queryLocalKeys } from './key-query.ts';
import { keyCountsCacheFor } from './key-counts-cache.ts';
import { addOneTimeKeys, claimKeys, getOneTimeKeyCounts, parseKeyMap, setFallbackKeys, type ClaimRequest } from './one-time-keys.ts';
import { requesterOf, requireNonGuest } from './requester.ts';
import { processSignatureUpload } from './signatures-upload.ts';
import { canonicalOrBadJson } from './signed-json.ts';
import { requireServerOfUserId } from './user-id.ts';
import { dict } from './dict.ts';

/** Advisory-lock namespace for per-device key uploads (duplicate one-time key IDs are checked under it). */
const UPLOAD_LOCK_NS = 0x6b75; // "ku"

/** What /keys/query and /keys/claim report for a server we cannot ask (there is no federation client yet). */
const UNREACHABLE = { status: 503, message: 'Federation is not available on this server' };

async function lockDevice(tx: TransactionSql, userId: string, deviceId: string): Promise<void> {
  await tx`SELECT pg_advisory_xact_lock(${UPLOAD_LOCK_NS}, hashtext(${`${userId}|${deviceId}`}))`;
}

function parseToken(text: string | undefined, name: string): SyncToken {
  if (text === undefined) throw errors.missingParam(`Missing query parameter: ${name}`);
  try {
    return decodeSyncToken(text);
  } catch (e) {
    if (e instanceof TokenError) throw errors.invalidParam(`Invalid ${name} token: ${e.message}`);
    throw e;
  }
}

const BODY_KEY_OF: Record<CrossSigningKeyType, 'master_key' | 'self_signing_key' | 'user_signing_key'> = {
  master: 'master_key',
  self_signing: 'self_signing_key',
  user_signing: 'user_signing_key',
};

export function createKeysHandlers(deps: E2eeDeps, deviceLists: DeviceListUpdater): Map<string, Handler> {
  const { sql } = deps;

  const upload: Handler = async (ctx) => {
    const r = requesterOf(ctx);
    if (!r.deviceId) throw new MatrixError(400, 'M_UNKNOWN', 'To upload keys, you must pass device_id when authenticating');
    const deviceId = r.deviceId;
    const body = ctx.body as { device_keys?: JsonObject; one_time_keys?: JsonObject; fallback_keys?: JsonObject };
    const deviceKeysJson = body.device_keys ? checkDeviceKeys(body.device_keys, r.userId, deviceId) : undefined;
    const oneTimeKeys = body.one_time_keys ? parseKeyMap(body.one_time_keys, 'one_time_keys') : [];
    const fallbackKeys = body.fallback_keys ? parseKeyMap(body.fallback_keys, 'fallback_keys') : [];
    let changed = false;
    const counts = await sql.begin(async (tx) => {
      await lockDevice(tx, r.userId, deviceId);
      if (deviceKeysJson !== undefined) changed = await storeDeviceKeys(tx, r.userId, deviceId, deviceKeysJson);
      await addOneTimeKeys(tx, r.userId, deviceId, oneTimeKeys);
      await setFallbackKeys(tx, r.userId, deviceId, fallbackKeys);
      return getOneTimeKeyCounts(tx, r.userId, deviceId);
    });
    if (oneTimeKeys.length > 0 || fallbackKeys.length > 0) keyCountsCacheFor(sql).changed(r.userId, [deviceId]);
    if (changed) await deviceLists.markDevicesChanged(r.userId, [deviceId]);
    return { body: { one_time_key_counts: counts } };
  };

  const query: Handler = async (ctx) => {
    const r = requesterOf(ctx);
    const wanted = (ctx.body as { device_keys: Record<string, string[]> }).device_keys;
    const local = new Map<string, string[]>();
    const failures = dict<JsonObject>();
    for (const [userId, deviceIds] of Object.entries(wanted)) {
      const server = requireServerOfUserId(userId);
      if (server === deps.serverName) local.set(userId, deviceIds);
      else failures[server] = UNREACHABLE;
    }
    const result = await queryLocalKeys(sql, r.userId, local, deps.listDevices);
    return { body: { ...result, failures } };
  };

  const claim: Handler = async (ctx) => {
    requesterOf(ctx);
    const wanted = (ctx.body as { one_time_keys: Record<string, Record<string, string>> }).one_time_keys;
    const requests: ClaimRequest[] = [];
    const failures = dict<JsonObject>();
    for (const [userId, devices] of Object.entries(wanted)) {
      const server = requireServerOfUserId(userId);
      if (server !== deps.serverName) {
        failures[server] = UNREACHABLE;
        continue;
      }
      for (const [deviceId, algorithm] of Object.entries(devices)) requests.push({ userId, deviceId, algorithm });
    }
    const claimed = await claimKeys(sql, requests);
    const counts = keyCountsCacheFor(sql);
    for (const k of claimed) counts.changed(k.userId, [k.deviceId]);
    const oneTimeKeys = dict<Record<string, JsonObject>>();
    for (const k of claimed) {
      const byDevice = (oneTimeKeys[k.userId] ??= dict());
      const keys = (byDevice[k.deviceId] ??= dict());
      keys[`${k.algorithm}:${k.keyId}`] = k.key;
    }
    return { body: { one_time_keys: oneTimeKeys, failures } };
  };

  const changes: Handler = async (ctx) => {
    const r = requesterOf(ctx);
    const from = parseToken(queryString(ctx.req, 'from'), 'from');
    const to = parseToken(queryString(ctx.req, 'to'), 'to');
    const updates = await deviceListUpdatesBetween(
      { sql, getUsersSharingRoomWith: deps.getUsersSharingRoomWith, getSharingChangesBetween: deps.getSharingChangesBetween },
      r.userId,
      from,
      to,
    );
    return { body: { changed: updates.changed, left: updates.left } };
  };

  const signaturesUpload: Handler = async (ctx) => {
    const r = requesterOf(ctx);
    for (const userId of Object.keys(ctx.body as object)) requireServerOfUserId(userId);
    const result = await processSignatureUpload(sql, r.userId, ctx.body as Record<string, JsonObject>);
    await storeSignatures(sql, result.signatures);
    if (result.ownChangedKeyIds.length > 0) await deviceLists.markDevicesChanged(r.userId, result.ownChangedKeyIds);
    if (result.signedUsers.length > 0) await deviceLists.markUserSignaturesChanged(r.userId, result.signedUsers);
    return { body: { failures: result.failures } };
  };

  const deviceSigningUpload: Handler = async (ctx: RequestContext) => {
    const r = requireNonGuest(ctx);
    const body = ctx.body as Partial<Record<'master_key' | 'self_signing_key' | 'user_signing_key', JsonObject>>;
    const stored = new Map((await getCrossSigningKeys(sql, [r.userId])).map((k) => [k.type, k]));
    // Which keys the request would change; re-sending the stored keys is an idempotent no-op.
    const changedTypes = CROSS_SIGNING_KEY_TYPES.filter((type) => {
      const given = body[BODY_KEY_OF[type]];
      if (!given) return false;
      const old = stored.get(type);
      return !old || canonicalOrBadJson(old.key, 'stored key') !== canonicalOrBadJson(given, BODY_KEY_OF[type]);
    });
    if (changedTypes.length === 0) return { body: {} };
    // Replacing existing keys needs the user's confirmation; first-time setup does not (MSC3967).
    if (stored.has('master') && !r.appserviceId) await deps.requireUserInteractiveAuth(ctx, ctx.body);

    const master = body.master_key
      ? { key: body.master_key, publicKey: checkCrossSigningKey(body.master_key, r.userId, 'master') }
      : stored.get('master');
    if (!master) throw errors.missingParam('No master key available');
    const toStore: { type: CrossSigningKeyType; publicKey: string; key: JsonObject }[] = [];
    for (const type of changedTypes) {
      const key = body[BODY_KEY_OF[type]] as JsonObject;
      const publicKey = type === 'master' ? master.publicKey : checkCrossSigningKey(key, r.userId, type, master);
      toStore.push({ type, publicKey, key });
    }
    // Cross-signing key IDs share a namespace with device IDs: a clash would let one pose as the other.
    const deviceIds = new Set((await deps.listDevices([r.userId])).map((d) => d.deviceId));
    if (toStore.some((k) => deviceIds.has(k.publicKey))) throw errors.forbidden('Key ID in use');

    await sql.begin(async (tx) => {
      for (const k of toStore) await storeCrossSigningKey(tx, r.userId, k.type, k.publicKey, k.key);
    });
    const visible = toStore.filter((k) => k.type !== 'user_signing').map((k) => k.publicKey);
    if (visible.length > 0) await deviceLists.markDevicesChanged(r.userId, visible);
    // A new user-signing key concerns only its owner's own devices.
    if (toStore.some((k) => k.type === 'user_signing')) await deviceLists.markUserSignaturesChanged(r.userId, [r.userId]);
    return { body: {} };
  };

  return new Map<string, Handler>([
    ['keys_upload', upload],
    ['keys_query', query],
    ['keys_claim', claim],
    ['keys_changes', changes],
    ['keys_signatures_upload', signaturesUpload],
    ['keys_device_signing_upload', deviceSigningUpload],
  ]);
}
