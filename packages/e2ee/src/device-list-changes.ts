/**
 * Which users' device lists a user should refresh between two sync tokens (GET /keys/changes, and the
 * same answer /sync gives in `device_lists`): users sharing a room whose devices or cross-signing keys
 * changed, users whose keys the user signed, and users who started sharing a room; `left` holds users
 * who may have stopped sharing every room and share none now.
 */
import { maxPosition, type SyncToken } from '@hs/core';
import type { Sql } from '@hs/storage';
import type { SharingChanges } from './deps.ts';
import { getDeviceListChanges, getUserSignatureChanges } from './device-lists.ts';

export interface DeviceListUpdates {
  changed: string[];
  left: string[];
}

export interface DeviceListChangeSources {
  readonly sql: Sql;
  getUsersSharingRoomWith(userId: string): Promise<string[]>;
  getSharingChangesBetween(userId: string, from: SyncToken['events'], to: SyncToken['events']): Promise<SharingChanges>;
}

export async function deviceListUpdatesBetween(src: DeviceListChangeSources, userId: string, from: SyncToken, to: SyncToken): Promise<DeviceListUpdates> {
  // `from` at its minimum and `to` at its maximum: spurious extra users are harmless, missed ones are not.
  const fromId = from.device_lists.min;
  const toId = maxPosition(to.device_lists);
  const sharingNow = new Set(await src.getUsersSharingRoomWith(userId));
  sharingNow.add(userId);
  const [devicesChanged, signed, membership] = await Promise.all([
    getDeviceListChanges(src.sql, [...sharingNow], fromId, toId),
    getUserSignatureChanges(src.sql, userId, fromId, toId),
    src.getSharingChangesBetween(userId, from.events, to.events),
  ]);
  const left = new Set(membership.left.filter((u) => !sharingNow.has(u)));
  const changed = new Set([...devicesChanged, ...signed, ...membership.joined].filter((u) => !left.has(u)));
  return { changed: [...changed].sort(), left: [...left].sort() };
}
