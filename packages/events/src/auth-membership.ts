import type { RoomVersion } from './room-versions.ts';
import type { EventView } from './types.ts';
import type { AuthResult, AuthStateLookup } from './auth-types.ts';
import { ALLOW, deny } from './auth-types.ts';
import { roomCreators } from './auth-create.ts';
import type { PowerLevels } from './auth-power-levels.ts';
import { readPowerLevels } from './auth-power-levels.ts';
import { checkThirdPartyInvite } from './auth-third-party-invite.ts';

/** A user's current membership in the auth state, if any. */
export function membershipOf(authState: AuthStateLookup, userId: string): string | undefined {
  const m = authState('m.room.member', userId)?.content['membership'];
  return typeof m === 'string' ? m : undefined;
}

/**
 * The current join rule. A room without m.room.join_rules is treated as `invite`, as
 * deployed servers do: the spec text would otherwise refuse even invited users' joins.
 */
function joinRuleOf(authState: AuthStateLookup): string | undefined {
  const ev = authState('m.room.join_rules', '');
  if (!ev) return 'invite';
  const rule = ev.content['join_rule'];
  return typeof rule === 'string' ? rule : undefined;
}

interface MemberContext {
  readonly rv: RoomVersion;
  readonly event: EventView;
  readonly target: string;
  readonly authState: AuthStateLookup;
  readonly create: EventView;
  readonly pl: PowerLevels;
  readonly senderMembership: string | undefined;
  readonly targetMembership: string | undefined;
  readonly joinRule: string | undefined;
}

/** The m.room.member rule; `create` is the room's create event from the auth state. */
export function checkMemberEvent(rv: RoomVersion, event: EventView, authState: AuthStateLookup, create: EventView): AuthResult {
  const target = event.state_key;
  const membership = event.content['membership'];
  if (target === undefined) return deny('m.room.member without state_key');
  if (typeof membership !== 'string') return deny('m.room.member without a membership string');
  // `join_authorised_via_users_server` must be signed by that user's server: checked with the
  // other signatures when the PDU is verified, as it needs server keys.
  const ctx: MemberContext = {
    rv,
    event,
    target,
    authState,
    create,
    pl: readPowerLevels(rv, authState),
    senderMembership: membershipOf(authState, event.sender),
    targetMembership: membershipOf(authState, target),
    joinRule: joinRuleOf(authState),
  };
  switch (membership) {
    case 'join':
      return checkJoin(ctx);
    case 'invite':
      return checkInvite(ctx);
    case 'leave':
      return checkLeave(ctx);
    case 'ban':
      return checkBan(ctx);
    case 'knock':
      if (rv.knock) return checkKnock(ctx);
      break;
  }
  return deny(`unknown membership ${membership}`);
}

function checkJoin(c: MemberContext): AuthResult {
  const { rv, event, pl } = c;
  // The creator's own join straight after the create event.
  const prev = event.prev_events;
  if (prev.length === 1 && prev[0] === c.create.event_id && c.target === roomCreators(rv, c.create)[0]) return ALLOW;
  if (event.sender !== c.target) return deny('join: sender does not match state_key');
  if (c.senderMembership === 'ban') return deny('join: sender is banned');
  const wasInvitedOrJoined = c.senderMembership === 'invite' || c.senderMembership === 'join';
  const rule = c.joinRule;
  if (rule === 'invite' || (rv.knock && rule === 'knock')) {
    return wasInvitedOrJoined ? ALLOW : deny(`join: join rule ${rule} needs an invite`);
  }
  if ((rv.restrictedJoinRule && rule === 'restricted') || (rv.knockRestrictedJoinRule && rule === 'knock_restricted')) {
    if (wasInvitedOrJoined) return ALLOW;
    const via = event.content['join_authorised_via_users_server'];
    if (typeof via !== 'string') return deny('restricted join: no join_authorised_via_users_server');
    if (c.authState('m.room.member', via)?.content['membership'] !== 'join') {
      return deny('restricted join: authorising user is not joined');
    }
    if (pl.userLevel(via) < pl.invite) return deny('restricted join: authorising user cannot invite');
    return ALLOW;
  }
  if (rule === 'public') return ALLOW;
  return deny(`join: join rule ${String(rule)} does not allow joining`);
}

function checkInvite(c: MemberContext): AuthResult {
  const { event, pl } = c;
  if (Object.hasOwn(event.content, 'third_party_invite')) {
    return checkThirdPartyInvite(event, event.content['third_party_invite'] ?? null, c.targetMembership, c.authState);
  }
  if (c.senderMembership !== 'join') return deny('invite: sender is not joined');
  if (c.targetMembership === 'join' || c.targetMembership === 'ban') {
    return deny(`invite: target is already ${c.targetMembership}`);
  }
  if (pl.userLevel(event.sender) >= pl.invite) return ALLOW;
  return deny('invite: sender is below the invite level');
}

function checkLeave(c: MemberContext): AuthResult {
  const { rv, event, pl } = c;
  if (event.sender === c.target) {
    const m = c.senderMembership;
    const canLeave = m === 'invite' || m === 'join' || (rv.knock && m === 'knock');
    return canLeave ? ALLOW : deny(`leave: cannot leave from membership ${String(m)}`);
  }
  if (c.senderMembership !== 'join') return deny('kick: sender is not joined');
  const senderLevel = pl.userLevel(event.sender);
  if (c.targetMembership === 'ban' && senderLevel < pl.ban) return deny('unban: sender is below the ban level');
  if (senderLevel >= pl.kick && pl.userLevel(c.target) < senderLevel) return ALLOW;
  return deny('kick: sender is below the kick level or not above the target');
}

function checkBan(c: MemberContext): AuthResult {
  const { event, pl } = c;
  if (c.senderMembership !== 'join') return deny('ban: sender is not joined');
  const senderLevel = pl.userLevel(event.sender);
  if (senderLevel >= pl.ban && pl.userLevel(c.target) < senderLevel) return ALLOW;
  return deny('ban: sender is below the ban level or not above the target');
}

function checkKnock(c: MemberContext): AuthResult {
  const { rv, event } = c;
  const rule = c.joinRule;
  if (!(rule === 'knock' || (rv.knockRestrictedJoinRule && rule === 'knock_restricted'))) {
    return deny(`knock: join rule ${String(rule)} does not allow knocking`);
  }
  if (event.sender !== c.target) return deny('knock: sender does not match state_key');
  const m = c.senderMembership;
  if (m === 'ban' || m === 'invite' || m === 'join') return deny(`knock: sender is already ${m}`);
  return ALLOW;
}
