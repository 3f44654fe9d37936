/**
 * PUT /rooms/{roomId}/redact/{eventId}/{txnId} (redaction.yaml): an m.room.redaction sent through
 * the rooms service, so the auth rules and the redaction rules (own events, or the redact power
 * level) apply exactly as for PUT /send, and a repeated transaction returns the same event. The
 * transaction ID shares the namespace of /send (unsigned.transaction_id must echo it unchanged).
 */
import type { JsonObject } from '@hs/core';
import type { Requester } from '@hs/http';
import { txnScopeOf } from '@hs/rooms';
import type { RoomApi } from './api.ts';

export async function redactEvent(api: RoomApi, r: Requester, roomId: string, eventId: string, txnId: string, reason: string | undefined): Promise<JsonObject> {
  const content: JsonObject = { redacts: eventId };
  if (reason !== undefined) content.reason = reason;
  const { eventId: redactionId } = await api.rooms.sendMessageEvent({
    roomId,
    sender: r.userId,
    type: 'm.room.redaction',
    content,
    txn: { scope: txnScopeOf(r), txnId },
  });
  return { event_id: redactionId };
}
