/**
 * Logging a device in and out: creating the device with its access (and refresh) token, and deleting
 * devices, which deletes their tokens through the foreign keys. Every change that revokes tokens
 * clears the user's entries from this process's token cache before it returns.
 */
import type { Sql, TransactionSql } from '@hs/storage';
import { clock, notifyDevicesChanged, refreshableLifetime, type AccountsDeps } from './deps.ts';
import { tokenCacheFor } from './token-cache.ts';
import { hashToken, newDeviceId, newToken } from './tokens.ts';

/** Longest device display name kept (Synapse's limit); longer initial names are cut. */
export const MAX_DEVICE_DISPLAY_NAME_LENGTH = 100;
/** Device IDs end up in primary keys; a bound keeps every index entry small. */
export const MAX_DEVICE_ID_LENGTH = 255;

export interface LoginRequest {
  readonly userId: string;
  /** Reuse this device (its earlier tokens are revoked) or create it; absent → a new random device. */
  readonly deviceId?: string | undefined;
  readonly initialDisplayName?: string | undefined;
  /** The client supports refresh tokens. */
  readonly wantRefreshToken?: boolean | undefined;
}

export interface IssuedLogin {
  readonly deviceId: string;
  readonly accessToken: string;
  readonly refreshToken?: string;
  readonly expiresInMs?: number;
}

/** Insert an access token (and refresh token when `lifetime` is set) for a device inside `tx`. */
export async function insertTokens(
  tx: TransactionSql,
  userId: string,
  deviceId: string,
  now: number,
  lifetime: number | null,
): Promise<{ accessToken: string; refreshToken?: string; expiresInMs?: number; refreshTokenId?: number }> {
  const accessToken = newToken('access');
  if (lifetime === null) {
    await tx`
      INSERT INTO access_tokens (user_id, device_id, token_hash, created_ts)
      VALUES (${userId}, ${deviceId}, ${hashToken(accessToken)}, ${now})`;
    return { accessToken };
  }
  const refreshToken = newToken('refresh');
  const [refresh] = await tx<{ id: number }[]>`
    INSERT INTO refresh_tokens (user_id, device_id, token_hash, created_ts)
    VALUES (${userId}, ${deviceId}, ${hashToken(refreshToken)}, ${now}) RETURNING id`;
  await tx`
    INSERT INTO access_tokens (user_id, device_id, token_hash, valid_until_ms, refresh_token_id, created_ts)
    VALUES (${userId}, ${deviceId}, ${hashToken(accessToken)}, ${now + lifetime}, ${refresh?.id ?? null}, ${now})`;
  return { accessToken, refreshToken, expiresInMs: lifetime, ...(refresh ? { refreshTokenId: refresh.id } : {}) };
}

/** Log a user in on a device: the device is created if new, and gets a fresh access token. */
export async function issueLogin(deps: AccountsDeps, r: LoginRequest): Promise<IssuedLogin> {
  const now = clock(deps)();
  const lifetime = r.wantRefreshToken ? refreshableLifetime(deps) : null;
  const displayName = r.initialDisplayName?.slice(0, MAX_DEVICE_DISPLAY_NAME_LENGTH) ?? null;
  const result = await deps.sql.begin(async (tx) => {
    let deviceId = r.deviceId;
    let created = false;
    if (deviceId === undefined) {
      // A random ID that happens to exist is not reused: that would take over another session.
      while (!created) {
        deviceId = newDeviceId();
        created = (await createDevice(tx, r.userId, deviceId, displayName, now)).length > 0;
      }
    } else {
      created = (await createDevice(tx, r.userId, deviceId, displayName, now)).length > 0;
      // Logging in again on a known device replaces its earlier tokens.
      if (!created) await tx`DELETE FROM refresh_tokens WHERE user_id = ${r.userId} AND device_id = ${deviceId}`;
      if (!created) await tx`DELETE FROM access_tokens WHERE user_id = ${r.userId} AND device_id = ${deviceId}`;
    }
    const tokens = await insertTokens(tx, r.userId, deviceId as string, now, lifetime);
    return { deviceId: deviceId as string, created, tokens };
  });
  if (!result.created) tokenCacheFor(deps.sql).invalidateUser(r.userId);
  else await notifyDevicesChanged(deps, r.userId, [result.deviceId]);
  const { accessToken, refreshToken, expiresInMs } = result.tokens;
  return {
    deviceId: result.deviceId,
    accessToken,
    ...(refreshToken !== undefined ? { refreshToken } : {}),
    ...(expiresInMs !== undefined ? { expiresInMs } : {}),
  };
}

function createDevice(tx: TransactionSql, userId: string, deviceId: string, displayName: string | null, now: number) {
  return tx`
    INSERT INTO devices (user_id, device_id, display_name, created_ts) VALUES (${userId}, ${deviceId}, ${displayName}, ${now})
    ON CONFLICT (user_id, device_id) DO NOTHING RETURNING device_id`;
}

/** The JSON a successful /login or /register answers with. */
export function loginResponse(userId: string, serverName: string, login: IssuedLogin): Record<string, unknown> {
  return {
    user_id: userId,
    access_token: login.accessToken,
    device_id: login.deviceId,
    home_server: serverName,
    ...(login.refreshToken !== undefined ? { refresh_token: login.refreshToken } : {}),
    ...(login.expiresInMs !== undefined ? { expires_in_ms: login.expiresInMs } : {}),
  };
}

/** Delete some of a user's devices (and so their tokens) inside `tx`; returns the IDs that existed. */
export async function deleteDevicesIn(tx: Sql | TransactionSql, userId: string, deviceIds: readonly string[]): Promise<string[]> {
  if (deviceIds.length === 0) return [];
  const rows = await tx<{ device_id: string }[]>`
    DELETE FROM devices WHERE user_id = ${userId} AND device_id = ANY(${deviceIds as string[]}::text[]) RETURNING device_id`;
  return rows.map((r) => r.device_id);
}

/** Delete every device of a user except `keep`; returns the deleted IDs. */
export async function deleteOtherDevicesIn(tx: Sql | TransactionSql, userId: string, keep: string | null): Promise<string[]> {
  const rows = await tx<{ device_id: string }[]>`
    DELETE FROM devices WHERE user_id = ${userId} AND device_id IS DISTINCT FROM ${keep} RETURNING device_id`;
  return rows.map((r) => r.device_id);
}

/** Delete devices, drop cached tokens and tell the hook. */
export async function deleteDevices(deps: AccountsDeps, userId: string, deviceIds: readonly string[]): Promise<string[]> {
  const deleted = await deleteDevicesIn(deps.sql, userId, deviceIds);
  tokenCacheFor(deps.sql).invalidateUser(userId);
  await notifyDevicesChanged(deps, userId, deleted);
  return deleted;
}
