/**
 * Membership changes (joining.yaml, leaving.yaml, inviting.yaml, kicking.yaml, banning.yaml,
 * knocking.yaml): each is one m.room.member event appended under the room's queue, so the checks
 * below and the auth rules see the same state. Like Synapse, a change that would repeat the current
 * member event exactly (same sender, membership and content) returns that event instead.
 */
import type { JsonObject } from '@hs/core';
import { MatrixError, errors, isJsonObject } from '@hs/core';
import { parsePowerLevel, senderPowerLevel } from '@hs/events';
import type { RoomsContext } from './context.ts';
import { profileContent, sameJson } from './context.ts';
import type { RoomDraft } from './room-draft.ts';
import { isValidUserId, serverOf } from './ids.ts';
import type { MemberProfile } from './deps.ts';

export type MembershipAction = 'invite' | 'join' | 'leave' | 'kick' | 'ban' | 'unban' | 'knock';

const EFFECT: Record<MembershipAction, string> = {
  invite: 'invite',
  join: 'join',
  leave: 'leave',
  kick: 'leave',
  ban: 'ban',
  unban: 'leave',
  knock: 'knock',
};

export interface MembershipRequest {
  readonly roomId: string;
  readonly sender: string;
  readonly target: string;
  readonly action: MembershipAction;
  readonly reason?: string;
  readonly isGuest?: boolean;
  /** Extra content keys (e.g. `is_direct` on invites). */
  readonly extraContent?: JsonObject;
}

export interface MembershipResult {
  readonly eventId: string;
  /** False when the current member event already said this (nothing was sent). */
  readonly changed: boolean;
}

/** Throw if `userId` is not ours: the other server must take part, which needs federation. */
function requireLocal(ctx: RoomsContext, userId: string, what: string): void {
  if (serverOf(userId) !== ctx.deps.serverName) {
    throw errors.forbidden(`Cannot ${what} ${userId}: users on other servers need federation, which is not available`);
  }
}

async function guestCheck(draft: RoomDraft): Promise<void> {
  const ev = await draft.get('m.room.guest_access', '');
  if (ev?.content.guest_access !== 'can_join') throw errors.forbidden('Guest access is not allowed in this room');
}

/**
 * For `restricted` / `knock_restricted` rooms: if the user belongs to one of the allowed rooms,
 * the local joined member with the highest power that may invite vouches for the join
 * (`join_authorised_via_users_server`); else the join is refused.
 */
async function restrictedAuthoriser(ctx: RoomsContext, draft: RoomDraft, userId: string): Promise<string | undefined> {
  const rv = draft.roomVersion;
  const rules = await draft.get('m.room.join_rules', '');
  const rule = rules?.content.join_rule;
  const restricted = (rv.restrictedJoinRule && rule === 'restricted') || (rv.knockRestrictedJoinRule && rule === 'knock_restricted');
  if (!restricted) return undefined;
  const current = (await draft.get('m.room.member', userId))?.content.membership;
  if (current === 'join' || current === 'invite') return undefined;
  const allow = Array.isArray(rules?.content.allow) ? rules.content.allow : [];
  const allowedRooms = allow.flatMap((a) => (isJsonObject(a) && a.type === 'm.room_membership' && typeof a.room_id === 'string' ? [a.room_id] : []));
  const [member] = allowedRooms.length
    ? await ctx.store.sql<{ room_id: string }[]>`
        SELECT room_id FROM local_current_membership
        WHERE user_id = ${userId} AND room_id = ANY(${allowedRooms}::text[]) AND membership = 'join' LIMIT 1`
    : [];
  if (!member) {
    // knock_restricted rooms still take an ordinary invite-based join or a knock.
    if (rule === 'knock_restricted') return undefined;
    throw errors.forbidden('You are not a member of any of the rooms this room admits members of');
  }
  const candidates = (await ctx.store.getLocalJoinedUsers(draft.roomId)).filter((u) => u !== userId);
  await draft.load([['m.room.power_levels', ''], ['m.room.create', ''], ...candidates.map((u) => ['m.room.member', u] as const)]);
  const pl = draft.peek('m.room.power_levels', '')?.content;
  const inviteLevel = parsePowerLevel(rv, pl?.invite) ?? 0;
  let best: { user: string; level: number } | undefined;
  for (const u of candidates) {
    if (draft.peek('m.room.member', u)?.content.membership !== 'join') continue;
    const level = senderPowerLevel(rv, u, (t, k) => draft.peek(t, k));
    if (level >= inviteLevel && (!best || level > best.level)) best = { user: u, level };
  }
  if (!best) throw errors.forbidden('No member of this server can authorise your join to this restricted room');
  return best.user;
}

/** Append one membership event for an action (after the action's own checks). */
export async function updateMembership(ctx: RoomsContext, req: MembershipRequest): Promise<MembershipResult> {
  const membership = EFFECT[req.action];
  if (req.action === 'invite') requireLocal(ctx, req.target, 'invite');
  if (req.isGuest && req.action !== 'join' && req.action !== 'leave') {
    throw new MatrixError(403, 'M_GUEST_ACCESS_FORBIDDEN', 'Guest access not allowed');
  }
  const wantsProfile = membership === 'join' || membership === 'invite' || membership === 'knock';
  const profile = wantsProfile ? profileContent(await ctx.deps.getProfile(req.target).catch(() => undefined)) : {};

  return ctx.creator.inRoom(req.roomId, async (draft) => {
    const current = await draft.get('m.room.member', req.target);
    const currentMembership = typeof current?.content.membership === 'string' ? current.content.membership : undefined;
    switch (req.action) {
      case 'kick':
        if (currentMembership !== 'join' && currentMembership !== 'invite' && currentMembership !== 'knock') {
          throw errors.forbidden(`${req.target} is not in the room`);
        }
        break;
      case 'unban':
        if (currentMembership !== 'ban') throw errors.forbidden(`${req.target} is not banned from the room`);
        break;
      case 'leave':
        if (currentMembership === undefined) throw errors.forbidden(`${req.target} is not in the room`);
        if (currentMembership === 'leave' && current) return { eventId: current.event_id, changed: false };
        break;
      case 'join':
        if (req.isGuest) await guestCheck(draft);
        break;
    }
    const content: JsonObject = { membership, ...profile, ...(req.extraContent ?? {}) };
    if (req.reason !== undefined) content.reason = req.reason;
    if (req.action === 'join') {
      const via = await restrictedAuthoriser(ctx, draft, req.target);
      if (via !== undefined) content.join_authorised_via_users_server = via;
    }
    if (current && current.sender === req.sender && currentMembership === membership && sameJson(current.content, content)) {
      return { eventId: current.event_id, changed: false };
    }
    const ev = await draft.append({ sender: req.sender, type: 'm.room.member', stateKey: req.target, content });
    return { eventId: ev.eventId, changed: true };
  });
}

/** PUT /state/m.room.member/{userId}: the client's content as given, checked by the auth rules only. */
export async function setMemberState(ctx: RoomsContext, roomId: string, sender: string, target: string, content: JsonObject): Promise<MembershipResult> {
  if (!isValidUserId(target)) throw errors.invalidParam(`The state key of m.room.member must be a user ID, not ${target}`);
  if (content.membership === 'invite') requireLocal(ctx, target, 'invite');
  return ctx.creator.inRoom(roomId, async (draft) => {
    const current = await draft.get('m.room.member', target);
    if (current && current.sender === sender && sameJson(current.content, content)) return { eventId: current.event_id, changed: false };
    const ev = await draft.append({ sender, type: 'm.room.member', stateKey: target, content });
    return { eventId: ev.eventId, changed: true };
  });
}

/**
 * POST /forget: the user must have left (or been banned). Not being in the room at all is a
 * no-op, as in Synapse. Forgotten rooms drop out of /sync and their history is hidden.
 */
export async function forgetRoom(ctx: RoomsContext, userId: string, roomId: string): Promise<void> {
  const m = await ctx.store.getLocalMembership(roomId, userId);
  if (!m) return;
  if (m.membership !== 'leave' && m.membership !== 'ban') {
    throw new MatrixError(400, 'M_UNKNOWN', `User ${userId} is in room ${roomId}`);
  }
  await ctx.store.sql`
    UPDATE local_current_membership SET forgotten = true
    WHERE user_id = ${userId} AND room_id = ${roomId} AND event_id = ${m.eventId}`;
}

/**
 * Send a new join event with the user's new displayname/avatar to every room they are joined to
 * (the accounts domain calls this after a profile change). Rooms where nothing changes are
 * skipped; a failure in one room is logged and does not stop the others.
 */
export async function updateMemberProfiles(ctx: RoomsContext, userId: string, profile: MemberProfile): Promise<{ updated: number; failed: number }> {
  const rooms = await ctx.store.getJoinedRooms(userId);
  let updated = 0;
  let failed = 0;
  const content: JsonObject = { membership: 'join', ...profileContent(profile) };
  const queue = [...rooms];
  const worker = async () => {
    for (let room = queue.shift(); room !== undefined; room = queue.shift()) {
      try {
        const changed = await ctx.creator.inRoom(room, async (draft) => {
          const current = await draft.get('m.room.member', userId);
          if (current?.content.membership !== 'join') return false;
          if (current.sender === userId && sameJson(current.content, content)) return false;
          await draft.append({ sender: userId, type: 'm.room.member', stateKey: userId, content });
          return true;
        });
        if (changed) updated++;
      } catch (e) {
        failed++;
        ctx.deps.log.warn('could not update the member event for a profile change', { room_id: room, user_id: userId, error: String(e) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(4, rooms.length) }, worker));
  return { updated, failed };
}
