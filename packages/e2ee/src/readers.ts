/**
 * Read-only access for /sync and other readers: everything comes from Postgres, so any process with a
 * database connection can serve it (no stream writer needed).
 */
import type { Sql } from '@hs/storage';
import { getDeviceListChanges, getUserSignatureChanges } from './device-lists.ts';
import { keyCountsCacheFor } from './key-counts-cache.ts';
import type { DeviceKeyCounts } from './one-time-keys.ts';
import { deleteToDeviceMessagesUpTo, getToDeviceMessages, type ToDeviceBatch } from './to-device.ts';

export interface E2eeReaders {
  /** A device's pending to-device messages in (since, upTo], oldest first, at most `limit`. */
  getToDeviceMessages(userId: string, deviceId: string, sinceStreamId: number, upToStreamId: number, limit: number): Promise<ToDeviceBatch>;
  /** The client acknowledged messages up to `streamId` (it synced with a token at or past it). */
  deleteToDeviceMessagesUpTo(userId: string, deviceId: string, streamId: number): Promise<number>;
  /** The device's one-time key counts and unused fallback key types. */
  getDeviceKeyCounts(userId: string, deviceId: string): Promise<DeviceKeyCounts>;
  /** Users (of `userIds`, or all) whose device lists changed in (from, to] on the device_lists stream. */
  getDeviceListChanges(userIds: readonly string[] | undefined, fromStreamId: number, toStreamId: number): Promise<string[]>;
  /** Users whose keys `userId` signed in (from, to]: changed for `userId` alone. */
  getUserSignatureChanges(userId: string, fromStreamId: number, toStreamId: number): Promise<string[]>;
}

export function createE2eeReaders(sql: Sql): E2eeReaders {
  return {
    getToDeviceMessages: (userId, deviceId, since, upTo, limit) => getToDeviceMessages(sql, userId, deviceId, since, upTo, limit),
    deleteToDeviceMessagesUpTo: (userId, deviceId, streamId) => deleteToDeviceMessagesUpTo(sql, userId, deviceId, streamId),
    getDeviceKeyCounts: (userId, deviceId) => keyCountsCacheFor(sql).get(userId, deviceId),
    getDeviceListChanges: (userIds, from, to) => getDeviceListChanges(sql, userIds, from, to),
    getUserSignatureChanges: (userId, from, to) => getUserSignatureChanges(sql, userId, from, to),
  };
}
