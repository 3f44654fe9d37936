/**
 * Receipt writes over HTTP replication: a process that does not write the `receipts` stream forwards
 * each receipt to the stream's writer, which runs its `LocalReceiptsWriter` (and so announces it); the
 * worker then waits until it has applied that position, so the client reads its receipt back here.
 */
import type { JsonObject } from '@hs/core';
import { countField, eventIdField, forwardWrite, nonEmptyTextField, nullableField, objectField, optionalField, registerWriteEndpoint, roomIdField, userIdField, type ReplicatedWriterOptions, type ReplicationEndpointRegistry } from '@hs/replication';
import type { NewReceipt, ReceiptsWriter } from './receipts-store.ts';

const STREAM = 'receipts';

/** `receipts_insert`: body `{room_id, receipt_type, user_id, event_id, thread_id?, event_stream_ordering, data}` → `{position}`. */
export function registerReceiptsReplicationEndpoints(server: ReplicationEndpointRegistry, local: ReceiptsWriter): void {
  registerWriteEndpoint(server, 'receipts_insert', (b) => {
    const threadId = optionalField(b, 'thread_id', nonEmptyTextField);
    const receipt: NewReceipt = {
      roomId: roomIdField(b, 'room_id'),
      receiptType: nonEmptyTextField(b, 'receipt_type'),
      userId: userIdField(b, 'user_id'),
      eventId: eventIdField(b, 'event_id'),
      ...(threadId !== undefined ? { threadId } : {}),
      eventStreamOrdering: nullableField(b, 'event_stream_ordering', countField),
      data: objectField(b, 'data'),
    };
    return local.insert(receipt);
  });
}

/** A `ReceiptsWriter` for processes that do not write `receipts`. */
export class ReplicatedReceiptsWriter implements ReceiptsWriter {
  private readonly opts: ReplicatedWriterOptions;

  constructor(opts: ReplicatedWriterOptions) {
    this.opts = opts;
  }

  async insert(r: NewReceipt): Promise<number | null> {
    const body: JsonObject = {
      room_id: r.roomId,
      receipt_type: r.receiptType,
      user_id: r.userId,
      event_id: r.eventId,
      event_stream_ordering: r.eventStreamOrdering,
      data: r.data,
    };
    if (r.threadId !== undefined) body.thread_id = r.threadId;
    // Null: the receipt did not move forward, nothing was written and there is nothing to wait for.
    return forwardWrite(this.opts, STREAM, 'receipts_insert', body);
  }
}
