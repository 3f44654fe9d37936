/**
 * Device-list changes over HTTP replication: a worker that does not write the `device_lists` stream
 * (uploading keys, signing, deleting devices) forwards each `DeviceListUpdater` call to the stream's
 * writer, which records and announces the change; the worker then waits until it has applied that
 * position, so /keys/changes and /sync from this worker see it next.
 */
import { errors, looksLikeUserId, type JsonObject } from '@hs/core';
import { forwardWrite, registerWriteEndpoint, textArrayField, userIdField, type Fields, type ReplicatedWriterOptions, type ReplicationEndpointRegistry } from '@hs/replication';
import type { DeviceListUpdater } from './device-lists.ts';

const STREAM = 'device_lists';

function userIdArray(f: Fields, key: string): string[] {
  const ids = textArrayField(f, key);
  if (!ids.every(looksLikeUserId)) throw errors.badJson(`${key} must be user IDs`);
  return ids;
}

/** Endpoint names: `device_lists_<verb>`; bodies carry the updater's arguments by name. */
export function registerDeviceListsReplicationEndpoints(server: ReplicationEndpointRegistry, local: DeviceListUpdater): void {
  registerWriteEndpoint(server, 'device_lists_mark_devices_changed', (f) => local.markDevicesChanged(userIdField(f, 'userId'), textArrayField(f, 'deviceIds')));
  registerWriteEndpoint(server, 'device_lists_mark_user_signatures_changed', (f) =>
    local.markUserSignaturesChanged(userIdField(f, 'fromUserId'), userIdArray(f, 'targetUserIds')),
  );
}

/** A `DeviceListUpdater` for processes that do not write `device_lists`. */
export class ReplicatedDeviceListUpdater implements DeviceListUpdater {
  private readonly opts: ReplicatedWriterOptions;

  constructor(opts: ReplicatedWriterOptions) {
    this.opts = opts;
  }

  /** The updater's "nothing written" is undefined where the writer answers null. */
  private async forward(name: string, body: JsonObject): Promise<number | undefined> {
    return (await forwardWrite(this.opts, STREAM, name, body)) ?? undefined;
  }

  markDevicesChanged(userId: string, deviceIds: readonly string[]): Promise<number | undefined> {
    // As locally: nothing changed, nothing written (and no round trip).
    if (deviceIds.length === 0) return Promise.resolve(undefined);
    return this.forward('device_lists_mark_devices_changed', { userId, deviceIds: [...deviceIds] });
  }

  markUserSignaturesChanged(fromUserId: string, targetUserIds: readonly string[]): Promise<number | undefined> {
    if (targetUserIds.length === 0) return Promise.resolve(undefined);
    return this.forward('device_lists_mark_user_signatures_changed', { fromUserId, targetUserIds: [...targetUserIds] });
  }
}
