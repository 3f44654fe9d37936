/** Handlers of /room_keys/version[/{version}] and /room_keys/keys[/{roomId}[/{sessionId}]]. */
import { errors, type JsonObject } from '@hs/core';
import { queryString, type Handler, type RequestContext } from '@hs/http';
import type { Sql } from '@hs/storage';
import {
  createBackupVersion,
  deleteBackupVersion,
  deleteRoomKeys,
  getBackupVersion,
  getRoomKeys,
  updateBackupVersion,
  uploadRoomKeys,
  type KeyBackupData,
  type UploadedRoomKey,
} from './key-backup.ts';
import { requireNonGuest } from './requester.ts';
import { dict } from './dict.ts';

function versionParam(ctx: RequestContext): string {
  const v = queryString(ctx.req, 'version');
  if (v === undefined) throw errors.missingParam('Missing query parameter: version');
  return v;
}

function sessionsOf(roomId: string, sessions: Record<string, KeyBackupData>): UploadedRoomKey[] {
  return Object.entries(sessions).map(([sessionId, data]) => ({ roomId, sessionId, data }));
}

export function createKeyBackupHandlers(sql: Sql): Map<string, Handler> {
  const h = new Map<string, Handler>();

  h.set('room_keys_version_create', async (ctx) => {
    const r = requireNonGuest(ctx);
    const body = ctx.body as { algorithm: string; auth_data: JsonObject };
    return { body: { version: await createBackupVersion(sql, r.userId, body.algorithm, body.auth_data) } };
  });
  h.set('room_keys_version_current', async (ctx) => ({ body: { ...(await getBackupVersion(sql, requireNonGuest(ctx).userId)) } }));
  h.set('room_keys_version_get', async (ctx) => ({
    body: { ...(await getBackupVersion(sql, requireNonGuest(ctx).userId, ctx.params.version ?? '')) },
  }));
  h.set('room_keys_version_update', async (ctx) => {
    const r = requireNonGuest(ctx);
    await updateBackupVersion(sql, r.userId, ctx.params.version ?? '', ctx.body as { algorithm: string; auth_data: JsonObject; version?: string });
    return { body: {} };
  });
  h.set('room_keys_version_delete', async (ctx) => {
    await deleteBackupVersion(sql, requireNonGuest(ctx).userId, ctx.params.version ?? '');
    return { body: {} };
  });

  h.set('room_keys_put_all', async (ctx) => {
    const r = requireNonGuest(ctx);
    const rooms = (ctx.body as { rooms: Record<string, { sessions: Record<string, KeyBackupData> }> }).rooms;
    const keys = Object.entries(rooms).flatMap(([roomId, room]) => sessionsOf(roomId, room.sessions));
    return { body: { ...(await uploadRoomKeys(sql, r.userId, versionParam(ctx), keys)) } };
  });
  h.set('room_keys_put_room', async (ctx) => {
    const r = requireNonGuest(ctx);
    const sessions = (ctx.body as { sessions: Record<string, KeyBackupData> }).sessions;
    return { body: { ...(await uploadRoomKeys(sql, r.userId, versionParam(ctx), sessionsOf(ctx.params.roomId ?? '', sessions))) } };
  });
  h.set('room_keys_put_session', async (ctx) => {
    const r = requireNonGuest(ctx);
    const key = { roomId: ctx.params.roomId ?? '', sessionId: ctx.params.sessionId ?? '', data: ctx.body as KeyBackupData };
    return { body: { ...(await uploadRoomKeys(sql, r.userId, versionParam(ctx), [key])) } };
  });

  h.set('room_keys_get_all', async (ctx) => {
    const r = requireNonGuest(ctx);
    const rows = await getRoomKeys(sql, r.userId, versionParam(ctx));
    const rooms = dict<{ sessions: Record<string, KeyBackupData> }>();
    for (const k of rows) (rooms[k.roomId] ??= { sessions: dict() }).sessions[k.sessionId] = k.data;
    return { body: { rooms } };
  });
  h.set('room_keys_get_room', async (ctx) => {
    const r = requireNonGuest(ctx);
    const rows = await getRoomKeys(sql, r.userId, versionParam(ctx), ctx.params.roomId ?? '');
    const sessions = dict<KeyBackupData>();
    for (const k of rows) sessions[k.sessionId] = k.data;
    return { body: { sessions } };
  });
  h.set('room_keys_get_session', async (ctx) => {
    const r = requireNonGuest(ctx);
    const [row] = await getRoomKeys(sql, r.userId, versionParam(ctx), ctx.params.roomId ?? '', ctx.params.sessionId ?? '');
    if (!row) throw errors.notFound('No room_keys found');
    return { body: { ...row.data } };
  });

  h.set('room_keys_delete_all', async (ctx) => ({
    body: { ...(await deleteRoomKeys(sql, requireNonGuest(ctx).userId, versionParam(ctx))) },
  }));
  h.set('room_keys_delete_room', async (ctx) => ({
    body: { ...(await deleteRoomKeys(sql, requireNonGuest(ctx).userId, versionParam(ctx), ctx.params.roomId ?? '')) },
  }));
  h.set('room_keys_delete_session', async (ctx) => ({
    body: { ...(await deleteRoomKeys(sql, requireNonGuest(ctx).userId, versionParam(ctx), ctx.params.roomId ?? '', ctx.params.sessionId ?? '')) },
  }));
  return h;
}
