/**
 * What the e2ee domain needs from the rest of the process. Devices belong to the accounts domain and
 * room membership to the rooms domain; they reach us only through these narrow functions.
 */
import type { Logger, MultiWriterPosition, NotifyFn } from '@hs/core';
import type { RequestContext } from '@hs/http';
import type { Sql, StreamWriter } from '@hs/storage';
import type { DeviceListUpdater } from './device-lists.ts';
import type { ToDeviceSender } from './to-device.ts';

/** One device of a local user, as the accounts domain knows it. */
export interface ListedDevice {
  readonly userId: string;
  readonly deviceId: string;
  readonly displayName: string | null;
}

/** Users who started or may have stopped sharing a room with someone between two `events` positions. */
export interface SharingChanges {
  /** Users who now share a room they did not share at `from` (they joined, or the user joined their room). */
  readonly joined: readonly string[];
  /** Users who left a room shared with the user, or were in a room the user left. */
  readonly left: readonly string[];
}

export interface E2eeDeps {
  readonly sql: Sql;
  readonly serverName: string;
  readonly log: Logger;
  readonly notify: NotifyFn;
  /** Writer of the `to_device` stream (only on the process that writes it; see `toDeviceSender`). */
  readonly toDeviceWriter?: StreamWriter;
  /** Writer of the `device_lists` stream (only on the process that writes it; see `deviceListUpdater`). */
  readonly deviceListsWriter?: StreamWriter;
  /** Replaces the local to-device writer, e.g. with an HTTP-replication client on a non-writer worker. */
  readonly toDeviceSender?: ToDeviceSender;
  /** Replaces the local device-list writer, e.g. with an HTTP-replication client on a non-writer worker. */
  readonly deviceListUpdater?: DeviceListUpdater;
  /**
   * The current devices of these local users, in one query. Used for `*` to-device fan-out, to drop
   * messages and keys of devices that do not exist, for `unsigned.device_display_name` in /keys/query,
   * and to refuse cross-signing keys that collide with a device ID.
   */
  listDevices(userIds: readonly string[]): Promise<ListedDevice[]>;
  /** Throws the 401 UIA response (or an auth error) unless `ctx.body.auth` completes a flow. */
  requireUserInteractiveAuth(ctx: RequestContext, body: unknown): Promise<void>;
  /** Users who share at least one joined room with `userId` now (may include `userId`). */
  getUsersSharingRoomWith(userId: string): Promise<string[]>;
  /** Membership-driven changes between two `events` positions of sync tokens, for /keys/changes. */
  getSharingChangesBetween(userId: string, from: MultiWriterPosition, to: MultiWriterPosition): Promise<SharingChanges>;
}
