/**
 * Sending message and state events (room_send.yaml, room_state.yaml). Sends are idempotent per
 * (user, device or token, room, txnId): the transaction is looked up under the room's queue, so a
 * retry racing the original still gets the same event. Redactions may be sent in every room
 * version with `redacts` in content; for rooms before v11 it moves to the top level.
 */
import type { JsonObject } from '@hs/core';
import { MatrixError, errors } from '@hs/core';
import { parsePowerLevel, senderPowerLevel } from '@hs/events';
import type { RoomsContext } from './context.ts';
import { sameJson } from './context.ts';
import type { RoomDraft } from './room-draft.ts';
import { isPlausibleEventId, isValidRoomAlias, serverOf } from './ids.ts';
import { setMemberState } from './membership.ts';

export interface SendRequest {
  readonly roomId: string;
  readonly sender: string;
  readonly type: string;
  readonly content: JsonObject;
  /** The transaction: scope is the device ID or `token:<id>` (see txnScopeOf). */
  readonly txn?: { readonly scope: string; readonly txnId: string };
}

/**
 * Whether a redaction by `sender` may be sent: your own events, or anything with the redact power
 * level (Synapse's check for local clients; the auth rules alone would allow more from v3 on).
 */
async function redactionApplies(ctx: RoomsContext, draft: RoomDraft, sender: string, target: string): Promise<boolean> {
  const ev = await ctx.store.getEvent(target);
  if (ev && ev.roomId === draft.roomId && ev.sender === sender) return true;
  await draft.load([['m.room.power_levels', ''], ['m.room.create', ''], ['m.room.member', sender]]);
  const rv = draft.roomVersion;
  const redactLevel = parsePowerLevel(rv, draft.peek('m.room.power_levels', '')?.content.redact) ?? 50;
  if (senderPowerLevel(rv, sender, (t, k) => draft.peek(t, k)) >= redactLevel) return ev === undefined || ev.roomId === draft.roomId;
  throw errors.forbidden('You do not have permission to redact this event');
}

/** PUT /send/{eventType}/{txnId}: returns the event ID (the earlier one for a repeated transaction). */
export async function sendMessageEvent(ctx: RoomsContext, req: SendRequest): Promise<{ eventId: string }> {
  const txn = req.txn ? { userId: req.sender, scope: req.txn.scope, txnId: req.txn.txnId } : undefined;
  const job = async (draft: RoomDraft) => {
    if (txn) {
      const known = await draft.txnEvent(txn, () => ctx.store.getEventIdForTxn(txn.userId, txn.scope, req.roomId, txn.txnId));
      if (known !== undefined) return { eventId: known };
    }
    let content = req.content;
    let redacts: string | undefined;
    let applyRedaction = true;
    if (req.type === 'm.room.redaction') {
      const target = content.redacts;
      if (!isPlausibleEventId(target)) throw errors.badJson('m.room.redaction needs content.redacts, an event ID');
      redacts = target;
      applyRedaction = await redactionApplies(ctx, draft, req.sender, target);
      if (!draft.roomVersion.redactsInContent) {
        const { redacts: _moved, ...rest } = content;
        content = rest;
      }
    }
    const ev = await draft.append({
      sender: req.sender,
      type: req.type,
      content,
      ...(redacts !== undefined ? { redacts, applyRedaction } : {}),
      ...(txn ? { txn } : {}),
    });
    return { eventId: ev.eventId };
  };
  // The transaction is named to the queue, which reads every transaction of a batch in one query.
  return ctx.creator.inRoom(req.roomId, job, txn ? { txn } : {});
}

/**
 * m.room.canonical_alias: new aliases must be well formed (M_INVALID_PARAM) and point to this room
 * (M_BAD_ALIAS). Aliases already in the previous event are not re-checked.
 */
async function checkCanonicalAlias(ctx: RoomsContext, roomId: string, content: JsonObject, previous: JsonObject | undefined): Promise<void> {
  const listed = (c: JsonObject | undefined): string[] => {
    if (!c) return [];
    const out: string[] = [];
    if (typeof c.alias === 'string') out.push(c.alias);
    if (Array.isArray(c.alt_aliases)) for (const a of c.alt_aliases) if (typeof a === 'string') out.push(a);
    return out;
  };
  if (content.alias !== undefined && content.alias !== null && typeof content.alias !== 'string') throw errors.invalidParam('alias must be a string');
  if (content.alt_aliases !== undefined && (!Array.isArray(content.alt_aliases) || !content.alt_aliases.every((a) => typeof a === 'string'))) {
    throw errors.invalidParam('alt_aliases must be an array of strings');
  }
  const before = new Set(listed(previous));
  for (const alias of listed(content)) {
    if (before.has(alias)) continue;
    if (!isValidRoomAlias(alias)) throw errors.invalidParam(`Invalid room alias: ${alias}`);
    if (serverOf(alias) !== ctx.deps.serverName) {
      throw new MatrixError(400, 'M_BAD_ALIAS', `Cannot check ${alias} on another server without federation`);
    }
    if ((await ctx.store.resolveAlias(alias)) !== roomId) throw new MatrixError(400, 'M_BAD_ALIAS', `The alias ${alias} does not point to this room`);
  }
}

/**
 * PUT /state/{eventType}/{stateKey}. Repeating the current state event (same sender and content)
 * returns it instead of sending a new one, as Synapse does.
 */
export async function sendStateEvent(
  ctx: RoomsContext,
  req: { roomId: string; sender: string; type: string; stateKey: string; content: JsonObject },
): Promise<{ eventId: string }> {
  if (req.type === 'm.room.member') {
    const r = await setMemberState(ctx, req.roomId, req.sender, req.stateKey, req.content);
    return { eventId: r.eventId };
  }
  return ctx.creator.inRoom(req.roomId, async (draft) => {
    const current = await draft.get(req.type, req.stateKey);
    if (req.type === 'm.room.canonical_alias' && req.stateKey === '') await checkCanonicalAlias(ctx, req.roomId, req.content, current?.content);
    if (current && current.sender === req.sender && sameJson(current.content, req.content)) return { eventId: current.event_id };
    const ev = await draft.append({ sender: req.sender, type: req.type, stateKey: req.stateKey, content: req.content });
    return { eventId: ev.eventId };
  });
}
