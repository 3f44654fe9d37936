/**
 * Device-list changes on the `device_lists` stream. A user's devices or cross-signing identity changed →
 * a `device_lists_stream` row per device, and everyone sharing a room is woken. A user signed other users'
 * keys → a `user_signature_stream` row only that user sees, so their other devices refresh those users.
 */
import { errors, type NotifyFn } from '@hs/core';
import type { Sql, StreamWriter } from '@hs/storage';

/** The write side, behind an interface so a worker that does not write `device_lists` can forward it. */
export interface DeviceListUpdater {
  /** Record that these devices (or cross-signing key IDs) of `userId` changed; returns the stream position. */
  markDevicesChanged(userId: string, deviceIds: readonly string[]): Promise<number | undefined>;
  /** Record that `fromUserId` signed these users' keys (seen only by `fromUserId`). */
  markUserSignaturesChanged(fromUserId: string, targetUserIds: readonly string[]): Promise<number | undefined>;
}

export class LocalDeviceListUpdater implements DeviceListUpdater {
  private readonly sql: Sql;
  private readonly writer: StreamWriter;
  private readonly notify: NotifyFn;

  /**
   * Notifications name the user whose devices changed; the process's notifier also wakes the rooms
   * they are in, so everyone who shares a room with them hears of it.
   */
  constructor(opts: { sql: Sql; writer: StreamWriter; notify: NotifyFn }) {
    this.sql = opts.sql;
    this.writer = opts.writer;
    this.notify = opts.notify;
  }

  async markDevicesChanged(userId: string, deviceIds: readonly string[]): Promise<number | undefined> {
    const devices = [...new Set(deviceIds)];
    if (devices.length === 0) return undefined;
    const position = await this.writer.withIds(1, async ([id]) => {
      await this.sql`
        INSERT INTO device_lists_stream (stream_id, user_id, device_id)
        SELECT ${id as number}, ${userId}, d FROM unnest(${devices}::text[]) AS d
        ON CONFLICT DO NOTHING`;
      // After the commit, before the ID is released: the change is announced with the ID.
      this.notify({ stream: 'device_lists', position: id as number, users: [userId] });
      return id as number;
    });
    return position;
  }

  async markUserSignaturesChanged(fromUserId: string, targetUserIds: readonly string[]): Promise<number | undefined> {
    const targets = [...new Set(targetUserIds)];
    if (targets.length === 0) return undefined;
    const position = await this.writer.withIds(1, async ([id]) => {
      await this.sql`
        INSERT INTO user_signature_stream (stream_id, from_user_id, target_user_id)
        SELECT ${id as number}, ${fromUserId}, t FROM unnest(${targets}::text[]) AS t
        ON CONFLICT DO NOTHING`;
      this.notify({ stream: 'device_lists', position: id as number, users: [fromUserId] });
      return id as number;
    });
    return position;
  }
}

/** Stands in where this process has no `device_lists` writer: writes fail with 503 instead of vanishing. */
export const noDeviceListUpdater: DeviceListUpdater = {
  markDevicesChanged: () => Promise.reject(errors.unavailable('This process does not write the device_lists stream')),
  markUserSignaturesChanged: () => Promise.reject(errors.unavailable('This process does not write the device_lists stream')),
};

/**
 * Users (of `userIds`, or any when omitted) whose devices changed in the stream range (from, to].
 * Ordered by user ID so callers get a stable answer.
 */
export async function getDeviceListChanges(
  sql: Sql,
  userIds: readonly string[] | undefined,
  fromStreamId: number,
  toStreamId: number,
): Promise<string[]> {
  if (toStreamId <= fromStreamId) return [];
  if (userIds !== undefined && userIds.length === 0) return [];
  const rows =
    userIds === undefined
      ? await sql<{ user_id: string }[]>`
          SELECT DISTINCT user_id FROM device_lists_stream
          WHERE stream_id > ${fromStreamId} AND stream_id <= ${toStreamId} ORDER BY user_id`
      : await sql<{ user_id: string }[]>`
          SELECT DISTINCT user_id FROM device_lists_stream
          WHERE stream_id > ${fromStreamId} AND stream_id <= ${toStreamId} AND user_id = ANY(${userIds as string[]}::text[])
          ORDER BY user_id`;
  return rows.map((r) => r.user_id);
}

/** Users whose keys `fromUserId` signed (or whose own user-signing key changed) in (from, to]. */
export async function getUserSignatureChanges(sql: Sql, fromUserId: string, fromStreamId: number, toStreamId: number): Promise<string[]> {
  if (toStreamId <= fromStreamId) return [];
  const rows = await sql<{ target_user_id: string }[]>`
    SELECT DISTINCT target_user_id FROM user_signature_stream
    WHERE from_user_id = ${fromUserId} AND stream_id > ${fromStreamId} AND stream_id <= ${toStreamId}
    ORDER BY target_user_id`;
  return rows.map((r) => r.target_user_id);
}
