/**
 * Send-to-device messages: stored per recipient device under one `to_device` stream ID per request,
 * read by /sync in order, and deleted once the client acknowledges them (by syncing past them).
 */
import { errors, type JsonObject, type NotifyFn } from '@hs/core';
import type { Sql, StreamWriter } from '@hs/storage';

/** A message for one device, as /sync returns it in `to_device.events`. */
export interface ToDeviceEvent {
  readonly type: string;
  readonly sender: string;
  readonly content: JsonObject;
}

export interface ToDeviceDelivery {
  readonly userId: string;
  readonly deviceId: string;
  readonly content: JsonObject;
}

export interface SendToDeviceRequest {
  readonly sender: string;
  /** The sending device, or '' for a request made without one (an application service). */
  readonly senderDevice: string;
  readonly txnId: string;
  readonly type: string;
  /** Already resolved to existing local devices. */
  readonly deliveries: readonly ToDeviceDelivery[];
}

/** The write side, behind an interface so a worker that does not write `to_device` can forward it. */
export interface ToDeviceSender {
  /**
   * Store the messages unless this transaction was already handled. Resolves to the `to_device` stream
   * position they were stored at, or null when nothing was written (a repeat, or nothing to deliver).
   */
  send(req: SendToDeviceRequest): Promise<number | null>;
}

export class LocalToDeviceSender implements ToDeviceSender {
  private readonly sql: Sql;
  private readonly writer: StreamWriter;
  private readonly notify: NotifyFn;

  constructor(opts: { sql: Sql; writer: StreamWriter; notify: NotifyFn }) {
    this.sql = opts.sql;
    this.writer = opts.writer;
    this.notify = opts.notify;
  }

  async send(req: SendToDeviceRequest): Promise<number | null> {
    if (await this.seen(req)) return null;
    const now = Date.now();
    if (req.deliveries.length === 0) {
      // Nothing to deliver, but a retry of this transaction must still be recognised.
      await this.sql`
        INSERT INTO device_inbox_txns (user_id, device_id, txn_id, stream_id, ts_ms)
        VALUES (${req.sender}, ${req.senderDevice}, ${req.txnId}, NULL, ${now})
        ON CONFLICT DO NOTHING`;
      return null;
    }
    const users = req.deliveries.map((d) => d.userId);
    const devices = req.deliveries.map((d) => d.deviceId);
    const messages = req.deliveries.map((d) => JSON.stringify({ type: req.type, sender: req.sender, content: d.content }));
    const position = await this.writer.withIds(1, async ([id]) =>
      this.sql.begin(async (tx) => {
        // The transaction row goes first: a concurrent retry of the same request inserts nothing.
        const claimed = await tx`
          INSERT INTO device_inbox_txns (user_id, device_id, txn_id, stream_id, ts_ms)
          VALUES (${req.sender}, ${req.senderDevice}, ${req.txnId}, ${id as number}, ${now})
          ON CONFLICT DO NOTHING RETURNING 1`;
        if (claimed.length === 0) return undefined;
        await tx`
          INSERT INTO device_inbox (user_id, device_id, stream_id, message_json)
          SELECT u, d, ${id as number}, m FROM unnest(${users}::text[], ${devices}::text[], ${messages}::text[]) AS x(u, d, m)`;
        return id as number;
      }).then((written) => {
        // After the commit, before the ID is released: the change is announced with the ID.
        if (written !== undefined) this.notify({ stream: 'to_device', position: written, users: [...new Set(users)] });
        return written;
      }),
    );
    return position ?? null;
  }

  private async seen(req: SendToDeviceRequest): Promise<boolean> {
    const rows = await this.sql`
      SELECT 1 FROM device_inbox_txns
      WHERE user_id = ${req.sender} AND device_id = ${req.senderDevice} AND txn_id = ${req.txnId}`;
    return rows.length > 0;
  }
}

/** Stands in where this process has no `to_device` writer. */
export const noToDeviceSender: ToDeviceSender = {
  send: () => Promise.reject(errors.unavailable('This process does not write the to_device stream')),
};

export interface ToDeviceBatch {
  readonly events: ToDeviceEvent[];
  /**
   * The to_device position the next sync token should carry: `upToStreamId` when everything up to it
   * was returned, else the stream ID of the last returned message (the rest follows next time).
   */
  readonly nextStreamId: number;
}

/** Pending messages for a device in (since, upTo], oldest first, at most `limit`. */
export async function getToDeviceMessages(
  sql: Sql,
  userId: string,
  deviceId: string,
  sinceStreamId: number,
  upToStreamId: number,
  limit: number,
): Promise<ToDeviceBatch> {
  if (upToStreamId <= sinceStreamId || limit <= 0) return { events: [], nextStreamId: Math.max(sinceStreamId, upToStreamId) };
  const rows = await sql<{ stream_id: number; message_json: string }[]>`
    SELECT stream_id, message_json FROM device_inbox
    WHERE user_id = ${userId} AND device_id = ${deviceId} AND stream_id > ${sinceStreamId} AND stream_id <= ${upToStreamId}
    ORDER BY stream_id LIMIT ${limit}`;
  const events = rows.map((r) => JSON.parse(r.message_json) as ToDeviceEvent);
  const last = rows.at(-1);
  return { events, nextStreamId: rows.length === limit && last ? last.stream_id : upToStreamId };
}

/** Delete a device's messages up to and including `streamId` (the client has acknowledged them). */
export async function deleteToDeviceMessagesUpTo(sql: Sql, userId: string, deviceId: string, streamId: number): Promise<number> {
  const result = await sql`DELETE FROM device_inbox WHERE user_id = ${userId} AND device_id = ${deviceId} AND stream_id <= ${streamId}`;
  return result.count;
}
