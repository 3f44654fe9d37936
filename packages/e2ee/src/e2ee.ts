/**
 * The e2ee domain wired from its deps: the handler table, and the functions other domains call
 * (accounts: device changes and deletions; sync: device-list updates between tokens).
 */
import type { SyncToken } from '@hs/core';
import type { Handler } from '@hs/http';
import type { Sql } from '@hs/storage';
import type { E2eeDeps } from './deps.ts';
import { deviceListUpdatesBetween, type DeviceListUpdates } from './device-list-changes.ts';
import { LocalDeviceListUpdater, noDeviceListUpdater, type DeviceListUpdater } from './device-lists.ts';
import { createKeyBackupHandlers } from './key-backup-handlers.ts';
import { createKeysHandlers } from './keys-handlers.ts';
import { keyCountsCacheFor } from './key-counts-cache.ts';
import { createToDeviceHandlers } from './to-device-handlers.ts';
import { guardingInput } from './input-guard.ts';
import { LocalToDeviceSender, noToDeviceSender, type ToDeviceSender } from './to-device.ts';

export interface E2ee {
  readonly handlers: Map<string, Handler>;
  /** Devices of `userId` were added, removed or renamed (called by the accounts domain). */
  markDevicesChanged(userId: string, deviceIds: readonly string[]): Promise<number | undefined>;
  /** Devices were deleted: drop their keys, pending to-device messages and signatures, and tell watchers. */
  deleteDevices(userId: string, deviceIds: readonly string[]): Promise<void>;
  /** What /keys/changes answers, for /sync's `device_lists` as well. */
  deviceListUpdatesBetween(userId: string, from: SyncToken, to: SyncToken): Promise<DeviceListUpdates>;
}

/** Remove everything e2ee holds for devices that no longer exist. */
export async function deleteDeviceE2eeData(sql: Sql, userId: string, deviceIds: readonly string[]): Promise<void> {
  if (deviceIds.length === 0) return;
  const ids = [...deviceIds];
  const signerKeyIds = ids.map((d) => `ed25519:${d}`);
  await sql.begin(async (tx) => {
    await tx`DELETE FROM e2e_device_keys WHERE user_id = ${userId} AND device_id = ANY(${ids}::text[])`;
    await tx`DELETE FROM e2e_one_time_keys WHERE user_id = ${userId} AND device_id = ANY(${ids}::text[])`;
    await tx`DELETE FROM e2e_fallback_keys WHERE user_id = ${userId} AND device_id = ANY(${ids}::text[])`;
    await tx`DELETE FROM device_inbox WHERE user_id = ${userId} AND device_id = ANY(${ids}::text[])`;
    await tx`DELETE FROM e2e_cross_signing_signatures WHERE target_user_id = ${userId} AND target_key_id = ANY(${ids}::text[])`;
    await tx`DELETE FROM e2e_cross_signing_signatures WHERE signer_user_id = ${userId} AND signer_key_id = ANY(${signerKeyIds}::text[])`;
  });
}

export function createE2ee(deps: E2eeDeps): E2ee {
  const deviceLists: DeviceListUpdater =
    deps.deviceListUpdater ??
    (deps.deviceListsWriter
      ? new LocalDeviceListUpdater({ sql: deps.sql, writer: deps.deviceListsWriter, notify: deps.notify })
      : noDeviceListUpdater);
  const toDevice: ToDeviceSender =
    deps.toDeviceSender ?? (deps.toDeviceWriter ? new LocalToDeviceSender({ sql: deps.sql, writer: deps.toDeviceWriter, notify: deps.notify }) : noToDeviceSender);
  const handlers = new Map<string, Handler>(
    [...createKeysHandlers(deps, deviceLists), ...createToDeviceHandlers(deps, toDevice), ...createKeyBackupHandlers(deps.sql)].map(
      ([name, handler]) => [name, guardingInput(handler)],
    ),
  );
  return {
    handlers,
    markDevicesChanged: (userId, deviceIds) => deviceLists.markDevicesChanged(userId, deviceIds),
    async deleteDevices(userId, deviceIds) {
      await deleteDeviceE2eeData(deps.sql, userId, deviceIds);
      keyCountsCacheFor(deps.sql).changed(userId, deviceIds);
      await deviceLists.markDevicesChanged(userId, deviceIds);
    },
    deviceListUpdatesBetween: (userId, from, to) => deviceListUpdatesBetween(deps, userId, from, to),
  };
}

export function createE2eeHandlers(deps: E2eeDeps): Map<string, Handler> {
  return createE2ee(deps).handlers;
}
