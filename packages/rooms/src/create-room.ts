/**
 * POST /createRoom (create_room.yaml): the room's first events, in the order the spec gives —
 * create, the creator's join, power levels, canonical alias, preset state, initial_state, name,
 * topic, invites — built as one chain and persisted in one transaction, so a room either exists
 * complete or not at all. Defaults follow Synapse where the spec leaves them open.
 */
import type { JsonObject, JsonValue } from '@hs/core';
import { MatrixError, errors } from '@hs/core';
import type { RoomVersion } from '@hs/events';
import { DEFAULT_ROOM_VERSION, getRoomVersion } from '@hs/events';
import type { RoomsContext } from './context.ts';
import { profileContent } from './context.ts';
import type { RoomDraft } from './room-draft.ts';
import { isValidUserId, newRoomId, serverOf } from './ids.ts';

export type Preset = 'private_chat' | 'trusted_private_chat' | 'public_chat';

/** The request body after schema validation (schemas/client/create_room.schema.json). */
export interface CreateRoomBody {
  readonly visibility?: 'public' | 'private';
  readonly room_alias_name?: string;
  readonly name?: string;
  readonly topic?: string;
  readonly invite?: readonly string[];
  readonly invite_3pid?: readonly unknown[];
  readonly room_version?: string;
  readonly creation_content?: JsonObject;
  readonly initial_state?: ReadonlyArray<{ readonly type: string; readonly state_key?: string; readonly content: JsonObject }>;
  readonly preset?: Preset;
  readonly is_direct?: boolean;
  readonly power_level_content_override?: JsonObject;
}

const PRESETS: Record<Preset, { joinRule: string; historyVisibility: string; guestAccess: string; invitedAreOps: boolean; inviteLevel: number }> = {
  private_chat: { joinRule: 'invite', historyVisibility: 'shared', guestAccess: 'can_join', invitedAreOps: false, inviteLevel: 0 },
  trusted_private_chat: { joinRule: 'invite', historyVisibility: 'shared', guestAccess: 'can_join', invitedAreOps: true, inviteLevel: 0 },
  public_chat: { joinRule: 'public', historyVisibility: 'shared', guestAccess: 'forbidden', invitedAreOps: false, inviteLevel: 50 },
};

/** The default power levels (Synapse's), before presets and the client's override. */
export function defaultPowerLevels(rv: RoomVersion, creator: string, preset: Preset, invitees: readonly string[]): JsonObject {
  const users: JsonObject = {};
  // From v12 creators have infinite power and must not be listed (trusted invitees are creators too).
  if (!rv.privilegedCreators) {
    users[creator] = 100;
    if (PRESETS[preset].invitedAreOps) for (const u of invitees) users[u] = 100;
  }
  return {
    users,
    users_default: 0,
    events: {
      'm.room.name': 50,
      'm.room.power_levels': 100,
      'm.room.history_visibility': 100,
      'm.room.canonical_alias': 50,
      'm.room.avatar': 50,
      // v12: explicitly above state_default, so upgrading a room takes more than setting state.
      'm.room.tombstone': rv.privilegedCreators ? 150 : 100,
      'm.room.server_acl': 100,
      'm.room.encryption': 100,
    },
    events_default: 0,
    state_default: 50,
    ban: 50,
    kick: 50,
    redact: 50,
    invite: PRESETS[preset].inviteLevel,
  };
}

function aliasFor(localpart: string, serverName: string): string {
  if (localpart.length === 0 || /[\s:#\p{Cc}]/u.test(localpart)) throw errors.invalidParam('room_alias_name contains invalid characters');
  const alias = `#${localpart}:${serverName}`;
  if (Buffer.byteLength(alias) > 255) throw errors.invalidParam('room_alias_name is too long');
  return alias;
}

function asCreationFailure(e: unknown): unknown {
  // The auth rules refusing an initial event means the request described an impossible room.
  if (e instanceof MatrixError && e.errcode === 'M_FORBIDDEN') return new MatrixError(400, 'M_INVALID_ROOM_STATE', e.message);
  return e;
}

export async function createRoom(ctx: RoomsContext, creator: string, body: CreateRoomBody): Promise<{ roomId: string }> {
  const serverName = ctx.deps.serverName;
  const versionId = body.room_version ?? ctx.deps.defaultRoomVersion ?? DEFAULT_ROOM_VERSION;
  const rv = getRoomVersion(versionId);
  if (!rv) throw new MatrixError(400, 'M_UNSUPPORTED_ROOM_VERSION', `Room version ${versionId} is not supported by this server`);
  const preset: Preset = body.preset ?? (body.visibility === 'public' ? 'public_chat' : 'private_chat');
  const p = PRESETS[preset];

  const invitees = [...new Set(body.invite ?? [])].filter((u) => u !== creator);
  for (const u of invitees) {
    if (!isValidUserId(u)) throw errors.invalidParam(`Invalid user ID in invite: ${u}`);
    if (serverOf(u) !== serverName) throw errors.forbidden(`Cannot invite ${u}: inviting users on other servers needs federation, which is not available`);
  }
  if ((body.invite_3pid ?? []).length > 0) {
    throw errors.invalidParam('invite_3pid is not supported: this server has no identity server to send third-party invites through');
  }
  const alias = body.room_alias_name === undefined ? undefined : aliasFor(body.room_alias_name, serverName);
  if (alias !== undefined && (await ctx.store.resolveAlias(alias)) !== undefined) {
    throw new MatrixError(400, 'M_ROOM_IN_USE', `Room alias ${alias} already taken`);
  }

  // m.room.create content: the client's extras, then what the server decides.
  const createContent: JsonObject = { ...(body.creation_content ?? {}) };
  delete createContent.creator;
  createContent.room_version = rv.id;
  if (!rv.implicitRoomCreator) createContent.creator = creator;
  if (rv.privilegedCreators) {
    const given = createContent.additional_creators;
    if (given !== undefined && (!Array.isArray(given) || !given.every(isValidUserId))) {
      throw errors.invalidParam('creation_content.additional_creators must be an array of user IDs');
    }
    const extra = new Set<string>((given as string[] | undefined) ?? []);
    if (preset === 'trusted_private_chat') for (const u of invitees) extra.add(u);
    extra.delete(creator);
    if (extra.size > 0) createContent.additional_creators = [...extra];
    else delete createContent.additional_creators;
  }

  // initial_state, keyed so preset defaults it overrides can be skipped.
  const initial = (body.initial_state ?? []).map((s) => ({ type: s.type, stateKey: s.state_key ?? '', content: s.content }));
  const inInitial = (type: string, key = '') => initial.some((s) => s.type === type && s.stateKey === key);
  // A power levels event in initial_state replaces the defaults (sent third, in their place);
  // power_level_content_override still applies on top of whichever is used.
  const initialPl = [...initial].reverse().find((s) => s.type === 'm.room.power_levels' && s.stateKey === '');
  let powerLevels: JsonObject = initialPl ? { ...initialPl.content } : defaultPowerLevels(rv, creator, preset, invitees);
  if (body.power_level_content_override) powerLevels = { ...powerLevels, ...body.power_level_content_override };

  const profile = profileContent(await ctx.deps.getProfile(creator).catch(() => undefined));
  const inviteProfiles = await Promise.all(invitees.map((u) => ctx.deps.getProfile(u).catch(() => undefined)));
  const roomId = rv.roomIdFromCreateEvent ? undefined : newRoomId(serverName);

  const build = async (draft: RoomDraft): Promise<string> => {
    const state = async (type: string, content: JsonObject, key = '') => {
      try {
        await draft.append({ sender: creator, type, stateKey: key, content });
      } catch (e) {
        throw asCreationFailure(e);
      }
    };
    await state('m.room.create', createContent);
    await state('m.room.member', { membership: 'join', ...profile }, creator);
    await state('m.room.power_levels', powerLevels);
    if (alias !== undefined && !inInitial('m.room.canonical_alias')) await state('m.room.canonical_alias', { alias });
    if (!inInitial('m.room.join_rules')) await state('m.room.join_rules', { join_rule: p.joinRule });
    if (!inInitial('m.room.history_visibility')) await state('m.room.history_visibility', { history_visibility: p.historyVisibility });
    if (!inInitial('m.room.guest_access')) await state('m.room.guest_access', { guest_access: p.guestAccess });
    for (const s of initial) if (s !== initialPl) await state(s.type, s.content, s.stateKey);
    if (body.name !== undefined) await state('m.room.name', { name: body.name });
    if (body.topic !== undefined) {
      await state('m.room.topic', { topic: body.topic, 'm.topic': { 'm.text': [{ body: body.topic, mimetype: 'text/plain' }] } as JsonValue });
    }
    for (const [i, u] of invitees.entries()) {
      const content: JsonObject = { membership: 'invite', ...profileContent(inviteProfiles[i]) };
      if (body.is_direct) content.is_direct = true;
      await state('m.room.member', content, u);
    }
    if (alias !== undefined) {
      const inserted = await ctx.store.sql`
        INSERT INTO room_aliases (room_alias, room_id, creator, created_ts)
        VALUES (${alias}, ${draft.roomId}, ${creator}, ${ctx.clock()}) ON CONFLICT DO NOTHING`;
      if (inserted.count === 0) throw new MatrixError(400, 'M_ROOM_IN_USE', `Room alias ${alias} already taken`);
    }
    return draft.roomId;
  };

  let created: string | undefined;
  try {
    created = await ctx.creator.newRoom(rv, roomId, async (draft) => {
      created = await build(draft);
      return created;
    });
  } catch (e) {
    // The alias row is written before the events; take it back if they did not make it.
    if (alias !== undefined && created !== undefined) {
      await ctx.store.sql`DELETE FROM room_aliases WHERE room_alias = ${alias} AND room_id = ${created}`.catch(() => {});
    }
    throw e;
  }
  if (body.visibility === 'public') await ctx.store.sql`UPDATE rooms SET is_public = true WHERE room_id = ${created}`;
  return { roomId: created };
}

