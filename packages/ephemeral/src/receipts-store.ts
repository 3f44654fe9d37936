/**
 * Receipts in Postgres (`receipts_linearized`, migration 0007): one row per (room, type, user,
 * thread), replaced only by a receipt for a later event, stamped with the `receipts` stream ID of its
 * last change. Writes go through `ReceiptsWriter` so a process that does not write the stream can
 * forward them; reads are plain functions over Postgres, valid on every process.
 */
import type { JsonObject, NotifyFn } from '@hs/core';
import type { Sql, StreamWriter } from '@hs/storage';

export const RECEIPT_READ = 'm.read';
export const RECEIPT_READ_PRIVATE = 'm.read.private';
export const READ_MARKER_FULLY_READ = 'm.fully_read';
/** The thread ID naming the main timeline (as opposed to unthreaded, which is no thread ID at all). */
export const MAIN_THREAD = 'main';

export interface NewReceipt {
  readonly roomId: string;
  readonly receiptType: string;
  readonly userId: string;
  readonly eventId: string;
  /** Undefined for an unthreaded receipt. */
  readonly threadId?: string;
  /** Stream ordering of the event, or null when unknown here (receipts from other servers). */
  readonly eventStreamOrdering: number | null;
  /** Receipt data: `ts` (and `thread_id`, filled in from `threadId`). */
  readonly data: JsonObject;
}

export interface ReceiptsWriter {
  /**
   * Store the receipt if it is for a later event than the current one of its (room, type, user,
   * thread); returns the stream position it was written at, or null when it did not move forward.
   */
  insert(receipt: NewReceipt): Promise<number | null>;
}

/** Writes on the `receipts` stream's writer process. */
export class LocalReceiptsWriter implements ReceiptsWriter {
  private readonly sql: Sql;
  private readonly stream: StreamWriter;
  private readonly notify: NotifyFn;

  constructor(opts: { sql: Sql; stream: StreamWriter; notify: NotifyFn }) {
    this.sql = opts.sql;
    this.stream = opts.stream;
    this.notify = opts.notify;
  }

  async insert(r: NewReceipt): Promise<number | null> {
    const data: JsonObject = { ...r.data };
    if (r.threadId !== undefined) data.thread_id = r.threadId;
    else delete data.thread_id;
    const written = await this.stream.withIds(1, async ([id]) => {
      // One statement decides and writes, so concurrent receipts cannot move a row backwards: the
      // update only happens for a later event (or when either ordering is unknown, as Synapse does).
      const rows = await this.sql<{ stream_id: number }[]>`
        INSERT INTO receipts_linearized
          (stream_id, room_id, receipt_type, user_id, thread_id, event_id, event_stream_ordering, data)
        VALUES (${id as number}, ${r.roomId}, ${r.receiptType}, ${r.userId}, ${r.threadId ?? null}, ${r.eventId},
                ${r.eventStreamOrdering}, ${this.sql.json(data)})
        ON CONFLICT ON CONSTRAINT receipts_linearized_key DO UPDATE SET
          stream_id = EXCLUDED.stream_id, event_id = EXCLUDED.event_id,
          event_stream_ordering = EXCLUDED.event_stream_ordering, data = EXCLUDED.data
        WHERE receipts_linearized.event_stream_ordering IS NULL
           OR EXCLUDED.event_stream_ordering IS NULL
           OR receipts_linearized.event_stream_ordering < EXCLUDED.event_stream_ordering
        RETURNING stream_id`;
      // After the commit, before the ID is released: the change is announced with the ID.
      if (rows.length > 0) this.notify({ stream: 'receipts', position: id as number, rooms: [r.roomId], users: [r.userId] });
      return rows.length > 0 ? (id as number) : null;
    });
    return written;
  }
}

/** `m.receipt` content: event ID → receipt type → user ID → receipt data. */
export type ReceiptContent = Record<string, Record<string, Record<string, JsonObject>>>;

interface ReceiptRow {
  room_id: string;
  receipt_type: string;
  user_id: string;
  event_id: string;
  data: JsonObject;
}

/**
 * The receipts of `roomIds` that changed in (fromStream, toStream], as one `m.receipt` content per
 * room (rooms without any are left out). Private receipts appear only when they are `forUserId`'s own.
 * With fromStream 0 this is every current receipt of those rooms (an initial sync).
 */
export async function getReceiptsForRooms(
  sql: Sql,
  roomIds: readonly string[],
  fromStream: number,
  toStream: number,
  forUserId: string,
): Promise<Map<string, ReceiptContent>> {
  const out = new Map<string, ReceiptContent>();
  if (roomIds.length === 0 || fromStream >= toStream) return out;
  const rows = await sql<ReceiptRow[]>`
    SELECT room_id, receipt_type, user_id, event_id, data FROM receipts_linearized
    WHERE room_id = ANY(${roomIds as string[]}) AND stream_id > ${fromStream} AND stream_id <= ${toStream}
      AND (receipt_type <> ${RECEIPT_READ_PRIVATE} OR user_id = ${forUserId})
    ORDER BY stream_id`;
  for (const row of rows) {
    let content = out.get(row.room_id);
    if (!content) {
      content = {};
      out.set(row.room_id, content);
    }
    const byType = (content[row.event_id] ??= {});
    const byUser = (byType[row.receipt_type] ??= {});
    byUser[row.user_id] = row.data;
  }
  return out;
}

export interface OwnReceipt {
  readonly roomId: string;
  readonly receiptType: string;
  readonly threadId: string | null;
  readonly eventId: string;
  readonly eventStreamOrdering: number | null;
}

/** A user's current receipts (public and private) in `roomIds`: for unread and notification counts. */
export async function getUserReceipts(sql: Sql, userId: string, roomIds: readonly string[]): Promise<OwnReceipt[]> {
  if (roomIds.length === 0) return [];
  const rows = await sql<{ room_id: string; receipt_type: string; thread_id: string | null; event_id: string; event_stream_ordering: number | null }[]>`
    SELECT room_id, receipt_type, thread_id, event_id, event_stream_ordering FROM receipts_linearized
    WHERE user_id = ${userId} AND room_id = ANY(${roomIds as string[]})`;
  return rows.map((r) => ({
    roomId: r.room_id,
    receiptType: r.receipt_type,
    threadId: r.thread_id,
    eventId: r.event_id,
    eventStreamOrdering: r.event_stream_ordering,
  }));
}
