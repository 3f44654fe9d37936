/**
 * Pusher changes over HTTP replication. The `pushers` stream is always written by main (as in Synapse),
 * so a worker serving POST /pushers/set, or logging a device out, forwards each `PushersWriter` call
 * there; main runs its local writer (and so announces the change), and the worker waits until it has
 * applied that position before answering.
 */
import type { JsonObject } from '@hs/core';
import { booleanField, forwardPositionedWrite, forwardWrite, integerField, objectField, optionalField, registerWriteEndpoint, textArrayField, textField, userIdField, type Fields, type ReplicatedWriterOptions, type ReplicationEndpointRegistry } from '@hs/replication';
import type { NewPusher, PushersWriter } from './pushers-writer.ts';

const STREAM = 'pushers';

function pusherField(f: Fields, key: string): NewPusher {
  const p = objectField(f, key);
  const profileTag = optionalField(p, 'profileTag', textField);
  const deviceId = optionalField(p, 'deviceId', textField);
  const accessTokenId = optionalField(p, 'accessTokenId', integerField);
  return {
    userId: userIdField(p, 'userId'),
    appId: textField(p, 'appId'),
    pushkey: textField(p, 'pushkey'),
    kind: textField(p, 'kind'),
    appDisplayName: textField(p, 'appDisplayName'),
    deviceDisplayName: textField(p, 'deviceDisplayName'),
    lang: textField(p, 'lang'),
    data: objectField(p, 'data'),
    ...(profileTag !== undefined ? { profileTag } : {}),
    ...(deviceId !== undefined ? { deviceId } : {}),
    ...(accessTokenId !== undefined ? { accessTokenId } : {}),
  };
}

/** Endpoint names: `pushers_<verb>`; bodies carry the writer's arguments by name. */
export function registerPushersReplicationEndpoints(server: ReplicationEndpointRegistry, local: PushersWriter): void {
  registerWriteEndpoint(server, 'pushers_set_pusher', (f) => {
    const pusher = pusherField(f, 'pusher');
    return local.setPusher(pusher, { append: booleanField(objectField(f, 'opts'), 'append') });
  });
  registerWriteEndpoint(server, 'pushers_remove_pusher', (f) => local.removePusher(userIdField(f, 'userId'), textField(f, 'appId'), textField(f, 'pushkey')));
  registerWriteEndpoint(server, 'pushers_remove_pushers_for_devices', (f) => local.removePushersForDevices(userIdField(f, 'userId'), textArrayField(f, 'deviceIds')));
}

/** A `PushersWriter` for processes other than the `pushers` stream's writer (main). */
export class ReplicatedPushersWriter implements PushersWriter {
  private readonly opts: ReplicatedWriterOptions;

  constructor(opts: ReplicatedWriterOptions) {
    this.opts = opts;
  }

  setPusher(pusher: NewPusher, opts: { readonly append: boolean }): Promise<number> {
    // Setting a pusher always takes a stream ID; failures arrive as the writer's MatrixError.
    return forwardPositionedWrite(this.opts, STREAM, 'pushers_set_pusher', { pusher: { ...pusher }, opts: { append: opts.append } });
  }

  removePusher(userId: string, appId: string, pushkey: string): Promise<number | null> {
    return forwardWrite(this.opts, STREAM, 'pushers_remove_pusher', { userId, appId, pushkey });
  }

  removePushersForDevices(userId: string, deviceIds: readonly string[]): Promise<number | null> {
    // As locally: no devices, nothing to remove (and no round trip).
    if (deviceIds.length === 0) return Promise.resolve(null);
    return forwardWrite(this.opts, STREAM, 'pushers_remove_pushers_for_devices', { userId, deviceIds: [...deviceIds] });
  }
}
