/**
 * Account data writes over HTTP replication: a worker that does not write the `account_data` stream
 * forwards each `AccountDataWriter` call to the stream's writer, which runs its local writer (and so
 * announces the change); the worker then waits until it has applied that position itself, so the
 * client reads its own write from this worker next.
 */
import type { JsonObject } from '@hs/core';
import { forwardPositionedWrite, objectField, registerWriteEndpoint, roomIdField, textField, userIdField, type ReplicatedWriterOptions, type ReplicationEndpointRegistry } from '@hs/replication';
import type { AccountDataWriter } from './account-data-store.ts';

const STREAM = 'account_data';

/** Endpoint names: `account_data_<verb>`; bodies carry the local method's arguments by name. */
export function registerAccountDataReplicationEndpoints(server: ReplicationEndpointRegistry, local: AccountDataWriter): void {
  registerWriteEndpoint(server, 'account_data_set_global', (f) => local.setGlobal(userIdField(f, 'userId'), textField(f, 'type'), objectField(f, 'content')));
  registerWriteEndpoint(server, 'account_data_set_room', (f) =>
    local.setRoom(userIdField(f, 'userId'), roomIdField(f, 'roomId'), textField(f, 'type'), objectField(f, 'content')),
  );
  registerWriteEndpoint(server, 'account_data_add_tag', (f) =>
    local.addTag(userIdField(f, 'userId'), roomIdField(f, 'roomId'), textField(f, 'tag'), objectField(f, 'content')),
  );
  registerWriteEndpoint(server, 'account_data_remove_tag', (f) => local.removeTag(userIdField(f, 'userId'), roomIdField(f, 'roomId'), textField(f, 'tag')));
}

/** An `AccountDataWriter` for processes that do not write `account_data`. */
export class ReplicatedAccountDataWriter implements AccountDataWriter {
  private readonly opts: ReplicatedWriterOptions;

  constructor(opts: ReplicatedWriterOptions) {
    this.opts = opts;
  }

  // Every account data write takes a stream ID, so each answer carries a position.
  setGlobal(userId: string, type: string, content: JsonObject): Promise<number> {
    return forwardPositionedWrite(this.opts, STREAM, 'account_data_set_global', { userId, type, content });
  }

  setRoom(userId: string, roomId: string, type: string, content: JsonObject): Promise<number> {
    return forwardPositionedWrite(this.opts, STREAM, 'account_data_set_room', { userId, roomId, type, content });
  }

  addTag(userId: string, roomId: string, tag: string, content: JsonObject): Promise<number> {
    return forwardPositionedWrite(this.opts, STREAM, 'account_data_add_tag', { userId, roomId, tag, content });
  }

  removeTag(userId: string, roomId: string, tag: string): Promise<number> {
    return forwardPositionedWrite(this.opts, STREAM, 'account_data_remove_tag', { userId, roomId, tag });
  }
}
