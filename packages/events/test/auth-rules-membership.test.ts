import type { EventView } from '../src/types.ts';
import type { AuthCase, Room, RoomOptions } from './auth-fixtures.ts';
import { ALICE, BOB, CAROL, DAVE, EVE, defaultPl, ev, lookup, makeRoom, memberEv, setMember } from './auth-fixtures.ts';
import { runAuthTable } from './auth-table.ts';
import type { RoomVersion } from '../src/room-versions.ts';

/** Builds a case from a room and a member event made in it. */
function inRoom(opts: RoomOptions, setup: (room: Room) => EventView) {
  return (v: RoomVersion) => {
    const room = makeRoom(v, opts);
    const event = setup(room);
    return { event, state: lookup(room) };
  };
}

const basicCases: AuthCase[] = [
  {
    name: 'member event without membership',
    expect: 'deny',
    build: inRoom({ joinRule: 'public' }, (r) => ev(r, 'm.room.member', EVE, {}, EVE)),
  },
  {
    name: 'member event with a non-string membership',
    expect: 'deny',
    build: inRoom({ joinRule: 'public' }, (r) => ev(r, 'm.room.member', EVE, { membership: 7 }, EVE)),
  },
  {
    name: 'member event without state_key',
    expect: 'deny',
    build: inRoom({ joinRule: 'public' }, (r) => ev(r, 'm.room.member', EVE, { membership: 'join' })),
  },
  {
    name: 'unknown membership',
    expect: 'deny',
    build: inRoom({}, (r) => memberEv(r, EVE, 'wander', BOB)),
  },
];
runAuthTable('m.room.member basics', basicCases);

/** A room with only the create event: the creator's first join. */
function firstJoin(v: RoomVersion, target: string, sender = target, createContent = {}) {
  const room = makeRoom(v, { members: {}, pl: null, joinRule: null, createContent });
  const event = { ...memberEv(room, target, 'join', sender), prev_events: [room.create.event_id] };
  return { event, state: lookup(room) };
}

const joinCases: AuthCase[] = [
  { name: 'creator joins right after create', expect: 'allow', build: (v) => firstJoin(v, ALICE) },
  { name: 'non-creator joins right after create', expect: 'deny', build: (v) => firstJoin(v, BOB) },
  {
    name: 'content.creator names another user (only counts before v11)',
    expect: (v) => (v.implicitRoomCreator ? 'deny' : 'allow'),
    build: (v) => firstJoin(v, BOB, BOB, { creator: BOB }),
  },
  {
    name: 'additional creator joins right after create (only the sender counts)',
    expect: 'deny',
    build: (v) => firstJoin(v, BOB, BOB, { additional_creators: [BOB] }),
  },
  {
    name: 'join for someone else', reason: /sender does not match/,
    expect: 'deny',
    build: inRoom({ joinRule: 'public' }, (r) => memberEv(r, EVE, 'join', BOB)),
  },
  { name: 'public join', expect: 'allow', build: inRoom({ joinRule: 'public' }, (r) => memberEv(r, EVE, 'join')) },
  {
    name: 'banned user joins a public room',
    expect: 'deny',
    build: inRoom({ joinRule: 'public' }, (r) => (setMember(r, EVE, 'ban'), memberEv(r, EVE, 'join'))),
  },
  {
    name: 'uninvited join, invite rule',
    expect: 'deny',
    build: inRoom({ joinRule: 'invite' }, (r) => memberEv(r, EVE, 'join')),
  },
  {
    name: 'invited join, invite rule',
    expect: 'allow',
    build: inRoom({ joinRule: 'invite' }, (r) => (setMember(r, EVE, 'invite'), memberEv(r, EVE, 'join'))),
  },
  {
    name: 'joined user re-joins (profile change), invite rule',
    expect: 'allow',
    build: inRoom({ joinRule: 'invite' }, (r) => memberEv(r, CAROL, 'join')),
  },
  {
    name: 'user who left joins, invite rule',
    expect: 'deny',
    build: inRoom({ joinRule: 'invite' }, (r) => (setMember(r, EVE, 'leave'), memberEv(r, EVE, 'join'))),
  },
  {
    name: 'invited join, no join_rules event',
    expect: 'allow',
    build: inRoom({ joinRule: null }, (r) => (setMember(r, EVE, 'invite'), memberEv(r, EVE, 'join'))),
  },
  {
    name: 'uninvited join, no join_rules event',
    expect: 'deny',
    build: inRoom({ joinRule: null }, (r) => memberEv(r, EVE, 'join')),
  },
  {
    name: 'invited join, knock rule',
    expect: (v) => (v.knock ? 'allow' : 'deny'),
    build: inRoom({ joinRule: 'knock' }, (r) => (setMember(r, EVE, 'invite'), memberEv(r, EVE, 'join'))),
  },
  {
    name: 'uninvited join, knock rule',
    expect: 'deny',
    build: inRoom({ joinRule: 'knock' }, (r) => memberEv(r, EVE, 'join')),
  },
  {
    name: 'join, private rule',
    expect: 'deny',
    build: inRoom({ joinRule: 'private' }, (r) => memberEv(r, EVE, 'join')),
  },
  {
    name: 'join, join_rule not a string',
    expect: 'deny',
    build: (v) => {
      const room = makeRoom(v);
      const jr = ev(room, 'm.room.join_rules', ALICE, { join_rule: ['public'] }, '');
      return { event: memberEv(room, EVE, 'join'), state: lookup(room, jr) };
    },
  },
];
runAuthTable('join', joinCases);

const via = (user: string) => ({ join_authorised_via_users_server: user });
const restrictedCases: AuthCase[] = [
  {
    name: 'restricted join authorised by a joined user who can invite',
    expect: (v) => (v.restrictedJoinRule ? 'allow' : 'deny'),
    build: inRoom({ joinRule: 'restricted' }, (r) => memberEv(r, EVE, 'join', EVE, via(BOB))),
  },
  {
    name: 'restricted join without join_authorised_via_users_server', reason: /restricted join: no join_authorised|does not allow joining/,
    expect: 'deny',
    build: inRoom({ joinRule: 'restricted' }, (r) => memberEv(r, EVE, 'join')),
  },
  {
    name: 'restricted join authorised by a user who is not joined', reason: /not joined|does not allow joining/,
    expect: 'deny',
    build: inRoom({ joinRule: 'restricted' }, (r) => (setMember(r, BOB, 'leave'), memberEv(r, EVE, 'join', EVE, via(BOB)))),
  },
  {
    name: 'restricted join authorised by a user below the invite level', reason: /cannot invite|does not allow joining/,
    expect: 'deny',
    build: (v) => {
      const room = makeRoom(v, { joinRule: 'restricted', pl: defaultPl(v, { invite: 10 }) });
      return { event: memberEv(room, EVE, 'join', EVE, via(CAROL)), state: lookup(room) };
    },
  },
  {
    name: 'restricted join with a non-string authoriser', reason: /no join_authorised|does not allow joining/,
    expect: 'deny',
    build: inRoom({ joinRule: 'restricted' }, (r) => memberEv(r, EVE, 'join', EVE, { join_authorised_via_users_server: 5 })),
  },
  {
    name: 'restricted join by an invited user needs no authoriser',
    expect: (v) => (v.restrictedJoinRule ? 'allow' : 'deny'),
    build: inRoom({ joinRule: 'restricted' }, (r) => (setMember(r, EVE, 'invite'), memberEv(r, EVE, 'join'))),
  },
  {
    name: 'restricted join by a banned user', reason: /banned/,
    expect: 'deny',
    build: inRoom({ joinRule: 'restricted' }, (r) => (setMember(r, EVE, 'ban'), memberEv(r, EVE, 'join', EVE, via(BOB)))),
  },
  {
    name: 'knock_restricted join authorised by a joined user',
    expect: (v) => (v.knockRestrictedJoinRule ? 'allow' : 'deny'),
    build: inRoom({ joinRule: 'knock_restricted' }, (r) => memberEv(r, EVE, 'join', EVE, via(BOB))),
  },
  {
    name: 'knock_restricted join authorised by a user who is not joined',
    expect: 'deny',
    build: inRoom({ joinRule: 'knock_restricted' }, (r) => memberEv(r, EVE, 'join', EVE, via('@nobody:b.org'))),
  },
  {
    name: 'v12 creator authorises a restricted join without a power levels entry',
    when: (v) => v.privilegedCreators,
    expect: 'allow',
    build: (v) => {
      const room = makeRoom(v, { joinRule: 'restricted', pl: defaultPl(v, { invite: 100 }) });
      return { event: memberEv(room, EVE, 'join', EVE, via(ALICE)), state: lookup(room) };
    },
  },
];
runAuthTable('restricted joins', restrictedCases);

const inviteCases: AuthCase[] = [
  { name: 'joined user invites', expect: 'allow', build: inRoom({}, (r) => memberEv(r, EVE, 'invite', CAROL)) },
  {
    name: 'non-member invites',
    expect: 'deny',
    build: inRoom({}, (r) => memberEv(r, EVE, 'invite', '@someone:b.org')),
  },
  {
    name: 'invited (not joined) user invites',
    expect: 'deny',
    build: inRoom({}, (r) => (setMember(r, CAROL, 'invite'), memberEv(r, EVE, 'invite', CAROL))),
  },
  {
    name: 'invite a joined user',
    reason: /target is already join/,
    expect: 'deny',
    build: inRoom({}, (r) => memberEv(r, DAVE, 'invite', BOB)),
  },
  {
    name: 'invite a banned user', reason: /target is already ban/,
    expect: 'deny',
    build: inRoom({}, (r) => (setMember(r, EVE, 'ban'), memberEv(r, EVE, 'invite', BOB))),
  },
  {
    name: 'invite by a user below the invite level',
    expect: 'deny',
    build: (v) => {
      const room = makeRoom(v, { pl: defaultPl(v, { invite: 10 }) });
      return { event: memberEv(room, EVE, 'invite', CAROL), state: lookup(room) };
    },
  },
  {
    name: 'invite by a user at the invite level',
    expect: 'allow',
    build: (v) => {
      const room = makeRoom(v, { pl: defaultPl(v, { invite: 50 }) });
      return { event: memberEv(room, EVE, 'invite', BOB), state: lookup(room) };
    },
  },
  {
    name: 'invite with stringy invite level',
    expect: (v) => (v.integerPowerLevels ? 'allow' : 'deny'), // v10+ ignores the bad value → default 0
    build: (v) => {
      const room = makeRoom(v, { pl: defaultPl(v, { invite: '10' }) });
      return { event: memberEv(room, EVE, 'invite', CAROL), state: lookup(room) };
    },
  },
];
runAuthTable('invite', inviteCases);

const leaveCases: AuthCase[] = [
  { name: 'joined user leaves', expect: 'allow', build: inRoom({}, (r) => memberEv(r, CAROL, 'leave')) },
  {
    name: 'invited user rejects the invite',
    expect: 'allow',
    build: inRoom({}, (r) => (setMember(r, EVE, 'invite'), memberEv(r, EVE, 'leave'))),
  },
  {
    name: 'knocking user withdraws the knock',
    expect: (v) => (v.knock ? 'allow' : 'deny'),
    build: inRoom({}, (r) => (setMember(r, EVE, 'knock'), memberEv(r, EVE, 'leave'))),
  },
  { name: 'non-member leaves', expect: 'deny', build: inRoom({}, (r) => memberEv(r, EVE, 'leave')) },
  {
    name: 'banned user unbans themself',
    expect: 'deny',
    build: inRoom({}, (r) => (setMember(r, EVE, 'ban'), memberEv(r, EVE, 'leave'))),
  },
  { name: 'moderator kicks a lower user', expect: 'allow', build: inRoom({}, (r) => memberEv(r, CAROL, 'leave', BOB)) },
  { name: 'user kicks a higher user', expect: 'deny', build: inRoom({}, (r) => memberEv(r, BOB, 'leave', CAROL)) },
  { name: 'moderator kicks an equal user', expect: 'deny', build: inRoom({}, (r) => memberEv(r, DAVE, 'leave', BOB)) },
  {
    name: 'kick by a non-joined moderator',
    expect: 'deny',
    build: inRoom({}, (r) => (setMember(r, BOB, 'invite'), memberEv(r, CAROL, 'leave', BOB))),
  },
  {
    name: 'kick below the kick level',
    expect: 'deny',
    build: (v) => {
      const room = makeRoom(v, { pl: defaultPl(v, { kick: 60 }) });
      return { event: memberEv(room, CAROL, 'leave', BOB), state: lookup(room) };
    },
  },
  {
    name: 'unban below the ban level', reason: /unban/,
    expect: 'deny',
    build: (v) => {
      const room = makeRoom(v, { pl: defaultPl(v, { ban: 75 }) });
      setMember(room, EVE, 'ban');
      return { event: memberEv(room, EVE, 'leave', BOB), state: lookup(room) };
    },
  },
  {
    name: 'unban at the ban and kick levels',
    expect: 'allow',
    build: inRoom({}, (r) => (setMember(r, EVE, 'ban'), memberEv(r, EVE, 'leave', BOB))),
  },
];
runAuthTable('leave, kick, unban', leaveCases);

const banCases: AuthCase[] = [
  { name: 'moderator bans a lower user', expect: 'allow', build: inRoom({}, (r) => memberEv(r, CAROL, 'ban', BOB)) },
  { name: 'moderator bans an outsider', expect: 'allow', build: inRoom({}, (r) => memberEv(r, EVE, 'ban', BOB)) },
  { name: 'user bans a moderator', expect: 'deny', build: inRoom({}, (r) => memberEv(r, BOB, 'ban', CAROL)) },
  { name: 'moderator bans an equal', expect: 'deny', build: inRoom({}, (r) => memberEv(r, DAVE, 'ban', BOB)) },
  {
    name: 'ban by a non-joined moderator',
    expect: 'deny',
    build: inRoom({}, (r) => (setMember(r, BOB, 'leave'), memberEv(r, CAROL, 'ban', BOB))),
  },
  {
    name: 'ban below the ban level',
    expect: 'deny',
    build: (v) => {
      const room = makeRoom(v, { pl: defaultPl(v, { ban: 51 }) });
      return { event: memberEv(room, CAROL, 'ban', BOB), state: lookup(room) };
    },
  },
  {
    name: 'v12 creator bans a 100-level admin',
    when: (v) => v.privilegedCreators,
    expect: 'allow',
    build: (v) => {
      const room = makeRoom(v, { pl: defaultPl(v, { users: { [BOB]: 100 } }) });
      return { event: memberEv(room, BOB, 'ban', ALICE), state: lookup(room) };
    },
  },
  {
    name: 'v12 admin bans an additional creator',
    when: (v) => v.privilegedCreators,
    expect: 'deny',
    build: (v) => {
      const room = makeRoom(v, { createContent: { additional_creators: [CAROL] }, pl: defaultPl(v, { users: { [BOB]: 100 } }) });
      return { event: memberEv(room, CAROL, 'ban', BOB), state: lookup(room) };
    },
  },
];
runAuthTable('ban', banCases);

const knockCases: AuthCase[] = [
  {
    name: 'outsider knocks, knock rule',
    expect: (v) => (v.knock ? 'allow' : 'deny'),
    build: inRoom({ joinRule: 'knock' }, (r) => memberEv(r, EVE, 'knock')),
  },
  {
    name: 'user who left knocks, knock rule',
    expect: (v) => (v.knock ? 'allow' : 'deny'),
    build: inRoom({ joinRule: 'knock' }, (r) => (setMember(r, EVE, 'leave'), memberEv(r, EVE, 'knock'))),
  },
  {
    name: 'outsider knocks, knock_restricted rule',
    expect: (v) => (v.knockRestrictedJoinRule ? 'allow' : 'deny'),
    build: inRoom({ joinRule: 'knock_restricted' }, (r) => memberEv(r, EVE, 'knock')),
  },
  {
    name: 'knock, invite rule',
    expect: 'deny',
    build: inRoom({ joinRule: 'invite' }, (r) => memberEv(r, EVE, 'knock')),
  },
  {
    name: 'knock, public rule',
    expect: 'deny',
    build: inRoom({ joinRule: 'public' }, (r) => memberEv(r, EVE, 'knock')),
  },
  {
    name: 'knock for someone else',
    reason: /knock: sender does not match|unknown membership/,
    expect: 'deny',
    build: inRoom({ joinRule: 'knock' }, (r) => memberEv(r, EVE, 'knock', BOB)),
  },
  {
    name: 'banned user knocks',
    expect: 'deny',
    build: inRoom({ joinRule: 'knock' }, (r) => (setMember(r, EVE, 'ban'), memberEv(r, EVE, 'knock'))),
  },
  {
    name: 'invited user knocks',
    expect: 'deny',
    build: inRoom({ joinRule: 'knock' }, (r) => (setMember(r, EVE, 'invite'), memberEv(r, EVE, 'knock'))),
  },
  {
    name: 'joined user knocks',
    expect: 'deny',
    build: inRoom({ joinRule: 'knock' }, (r) => memberEv(r, CAROL, 'knock')),
  },
];
runAuthTable('knock', knockCases);
