/**
 * POST /rooms/{roomId}/upgrade (room_upgrades.yaml, client-server-api › Room Upgrades › Server
 * behaviour), in Synapse's order:
 *   1. the user must be allowed to send m.room.tombstone (checked by building one under the auth
 *      rules and throwing it away);
 *   2. a new room is created with `predecessor`, the old room's `type` and `m.federate`, the
 *      transferable state (server ACL, encryption, name, avatar, topic, guest access, history
 *      visibility, join rules, power levels; space children for spaces) — with the upgrader's power
 *      raised for the copying if needed and put back afterwards — and the old room's bans;
 *   3. the tombstone goes into the old room; local aliases move, the canonical alias's local
 *      aliases move with them; a published room stays published as the new room;
 *   4. the old room's `events_default` and `invite` rise to max(50, users_default + 1).
 * Upgrading to a version with privileged creators (v12): the upgrader and `additional_creators`
 * are the creators and leave the power levels' `users`; from such a version to an older one, the
 * old creators get 100 there. Concurrent requests for the same upgrade share one result.
 */
import type { JsonObject } from '@hs/core';
import { MatrixError, errors, isJsonObject } from '@hs/core';
import type { RoomVersion } from '@hs/events';
import { getRoomVersion, parsePowerLevel } from '@hs/events';
import { roomCreators } from '@hs/events/auth-create';
import type { Requester } from '@hs/http';
import type { CreateRoomBody, StoredEvent } from '@hs/rooms';
import { eventViewOf, isValidUserId, loadEventsForClient, serverOf } from '@hs/rooms';
import type { RoomApi } from './api.ts';

/** The state copied to the new room, as Synapse and the spec recommend. */
const COPIED_STATE = [
  'm.room.server_acl',
  'm.room.encryption',
  'm.room.name',
  'm.room.avatar',
  'm.room.topic',
  'm.room.guest_access',
  'm.room.history_visibility',
  'm.room.join_rules',
] as const;

/** Thrown out of the dry run once the tombstone passed the auth rules (it is then discarded). */
class TombstoneAllowed extends Error {}

export class RoomUpgrader {
  private readonly api: RoomApi;
  private readonly inFlight = new Map<string, Promise<string>>();

  constructor(api: RoomApi) {
    this.api = api;
  }

  async upgrade(r: Requester, roomId: string, newVersion: string, additionalCreators: readonly string[] | undefined): Promise<string> {
    const rv = getRoomVersion(newVersion);
    if (!rv) throw new MatrixError(400, 'M_UNSUPPORTED_ROOM_VERSION', `Room version ${newVersion} is not supported by this server`);
    for (const u of additionalCreators ?? []) if (!isValidUserId(u)) throw errors.invalidParam(`Invalid user ID in additional_creators: ${u}`);
    const oldVersion = await this.api.store.getRoomVersion(roomId);
    const oldRv = oldVersion === undefined ? undefined : getRoomVersion(oldVersion);
    if (!oldRv) throw errors.notFound(`Unknown room ${roomId}`);
    const key = `${roomId}\u0000${newVersion}\u0000${r.userId}`;
    const running = this.inFlight.get(key);
    if (running) return running;
    const job = this.run(r.userId, roomId, oldRv, rv, additionalCreators ?? []).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, job);
    return job;
  }

  private async checkTombstoneAllowed(roomId: string, sender: string): Promise<void> {
    try {
      await this.api.rooms.creator.inRoom(roomId, async (draft) => {
        await draft.append({ sender, type: 'm.room.tombstone', stateKey: '', content: { body: '', replacement_room: roomId } });
        throw new TombstoneAllowed();
      });
    } catch (e) {
      if (e instanceof TombstoneAllowed) return;
      if (e instanceof MatrixError && e.errcode === 'M_FORBIDDEN') throw errors.forbidden(`You cannot upgrade this room: ${e.message}`);
      throw e;
    }
  }

  private async run(upgrader: string, oldRoom: string, oldRv: RoomVersion, rv: RoomVersion, extraCreators: readonly string[]): Promise<string> {
    const { store, sql, rooms, deps } = this.api;
    await this.checkTombstoneAllowed(oldRoom, upgrader);

    const stateEvents = await store.getCurrentStateEvents(oldRoom, [
      ['m.room.create', ''],
      ['m.room.power_levels', ''],
      ['m.room.canonical_alias', ''],
      ...COPIED_STATE.map((t) => [t, ''] as const),
      ['m.space.child', null],
    ]);
    const banRows = await sql<{ event_id: string }[]>`
      SELECT event_id FROM current_state_events WHERE room_id = ${oldRoom} AND type = 'm.room.member' AND membership = 'ban'`;
    const served = new Map((await loadEventsForClient(store, [...stateEvents, ...banRows.map((b) => b.event_id)])).map((s) => [s.event.eventId, s]));
    const contentOf = (ev: StoredEvent): JsonObject => {
      const c = served.get(ev.eventId)?.pdu.content;
      return isJsonObject(c) ? c : {};
    };
    const find = (type: string) => stateEvents.find((e) => e.type === type && e.stateKey === '');
    const create = find('m.room.create');
    const createContent = create ? contentOf(create) : {};
    const oldPl = find('m.room.power_levels');
    const [last] = await sql<{ event_id: string }[]>`
      SELECT event_id FROM events WHERE room_id = ${oldRoom} AND NOT outlier AND rejected_reason IS NULL
      ORDER BY topological_ordering DESC, stream_ordering DESC LIMIT 1`;

    // Power levels for the new room, and a temporary raise for the upgrader while copying state.
    const finalPl: JsonObject | undefined = oldPl ? structuredClone(contentOf(oldPl)) : undefined;
    let copyPl = finalPl;
    if (finalPl) {
      const users: JsonObject = isJsonObject(finalPl.users) ? { ...finalPl.users } : {};
      if (rv.privilegedCreators) {
        for (const c of [upgrader, ...extraCreators]) delete users[c];
      } else if (oldRv.privilegedCreators) {
        const oldCreators = roomCreators(oldRv, create ? eventViewOf(create) : undefined);
        for (const c of oldCreators) users[c] = Math.max(parsePowerLevel(rv, users[c]) ?? 0, 100);
      }
      finalPl.users = users;
      if (!rv.privilegedCreators) {
        const level = (v: unknown, dflt: number) => (typeof v === 'number' && Number.isInteger(v) ? v : dflt);
        const events = isJsonObject(finalPl.events) ? finalPl.events : {};
        const stateDefault = level(finalPl.state_default, 50);
        const needed = Math.max(
          stateDefault,
          level(finalPl.ban, 50),
          ...[...COPIED_STATE, 'm.room.power_levels', 'm.room.canonical_alias', 'm.space.child'].map((t) => level(events[t], stateDefault)),
        );
        const mine = level(users[upgrader], level(finalPl.users_default, 0));
        if (mine < needed) copyPl = { ...finalPl, users: { ...users, [upgrader]: needed } };
      }
    }

    const copied = stateEvents.filter((e) => (COPIED_STATE as readonly string[]).includes(e.type) || (e.type === 'm.space.child' && createContent.type === 'm.space'));
    const creationContent: JsonObject = { predecessor: { room_id: oldRoom, ...(last ? { event_id: last.event_id } : {}) } };
    if (typeof createContent.type === 'string') creationContent.type = createContent.type;
    if (typeof createContent['m.federate'] === 'boolean') creationContent['m.federate'] = createContent['m.federate'];
    if (rv.privilegedCreators && extraCreators.length > 0) creationContent.additional_creators = [...extraCreators];
    const joinRule = copied.find((e) => e.type === 'm.room.join_rules');
    const body: CreateRoomBody = {
      room_version: rv.id,
      preset: joinRule && contentOf(joinRule).join_rule === 'public' ? 'public_chat' : 'private_chat',
      creation_content: creationContent,
      initial_state: [
        ...copied.map((e) => ({ type: e.type, state_key: e.stateKey ?? '', content: contentOf(e) })),
        ...(copyPl ? [{ type: 'm.room.power_levels', state_key: '', content: copyPl }] : []),
      ],
    };
    const { roomId: newRoom } = await rooms.createRoom(upgrader, body);
    const bestEffort = async (what: string, work: () => Promise<unknown>) => {
      try {
        await work();
      } catch (e) {
        deps.log.warn(`room upgrade: could not ${what}`, { old_room_id: oldRoom, new_room_id: newRoom, error: String(e) });
      }
    };

    for (const b of banRows) {
      const ev = served.get(b.event_id);
      const target = ev?.event.stateKey;
      if (!ev || target === undefined) continue;
      const reason = ev.pdu.content?.reason;
      await bestEffort(`copy the ban of ${target}`, () =>
        rooms.updateMembership({ roomId: newRoom, sender: upgrader, target, action: 'ban', ...(typeof reason === 'string' ? { reason } : {}) }),
      );
    }

    await rooms.sendStateEvent({
      roomId: oldRoom,
      sender: upgrader,
      type: 'm.room.tombstone',
      stateKey: '',
      content: { body: 'This room has been replaced', replacement_room: newRoom },
    });

    await sql`UPDATE room_aliases SET room_id = ${newRoom} WHERE room_id = ${oldRoom}`;
    const canonical = find('m.room.canonical_alias');
    if (canonical) await this.moveCanonicalAlias(upgrader, oldRoom, newRoom, contentOf(canonical), bestEffort);
    if (copyPl !== finalPl && finalPl) {
      await bestEffort('restore the power levels', () => rooms.sendStateEvent({ roomId: newRoom, sender: upgrader, type: 'm.room.power_levels', stateKey: '', content: finalPl }));
    }
    const info = await store.getRoomInfo(oldRoom);
    if (info?.isPublic) {
      await sql`UPDATE rooms SET is_public = (room_id = ${newRoom}) WHERE room_id IN (${oldRoom}, ${newRoom})`;
    }
    if (oldPl) await bestEffort('restrict the old room', () => this.restrictOldRoom(upgrader, oldRoom, oldRv, contentOf(oldPl)));
    return newRoom;
  }

  /** Local aliases of the canonical alias event move to the new room; remote ones stay. */
  private async moveCanonicalAlias(
    upgrader: string,
    oldRoom: string,
    newRoom: string,
    content: JsonObject,
    bestEffort: (what: string, work: () => Promise<unknown>) => Promise<void>,
  ): Promise<void> {
    const local = (a: unknown): a is string => typeof a === 'string' && serverOf(a) === this.api.serverName;
    const oldContent: JsonObject = { ...content };
    const newContent: JsonObject = {};
    if (local(content.alias)) {
      newContent.alias = content.alias;
      delete oldContent.alias;
    }
    if (Array.isArray(content.alt_aliases)) {
      const moved = content.alt_aliases.filter(local);
      if (moved.length > 0) newContent.alt_aliases = moved;
      oldContent.alt_aliases = content.alt_aliases.filter((a) => !local(a));
    }
    const { rooms } = this.api;
    await bestEffort('update the old canonical alias', () =>
      rooms.sendStateEvent({ roomId: oldRoom, sender: upgrader, type: 'm.room.canonical_alias', stateKey: '', content: oldContent }),
    );
    await bestEffort('set the new canonical alias', () =>
      rooms.sendStateEvent({ roomId: newRoom, sender: upgrader, type: 'm.room.canonical_alias', stateKey: '', content: newContent }),
    );
  }

  private async restrictOldRoom(upgrader: string, oldRoom: string, oldRv: RoomVersion, pl: JsonObject): Promise<void> {
    const content: JsonObject = structuredClone(pl);
    const usersDefault = parsePowerLevel(oldRv, content.users_default) ?? 0;
    const restricted = Math.max(50, usersDefault + 1);
    let changed = false;
    for (const key of ['events_default', 'invite'] as const) {
      if ((parsePowerLevel(oldRv, content[key]) ?? 0) < restricted) {
        content[key] = restricted;
        changed = true;
      }
    }
    if (changed) await this.api.rooms.sendStateEvent({ roomId: oldRoom, sender: upgrader, type: 'm.room.power_levels', stateKey: '', content });
  }
}
