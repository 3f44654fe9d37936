import type { AuthCase } from './auth-fixtures.ts';
import { ALICE, BOB, EVE, ZED, createEvent, ev, lookup, makeRoom, memberEv } from './auth-fixtures.ts';
import { runAuthTable } from './auth-table.ts';

const none = () => undefined;
const createCases: AuthCase[] = [
  { name: 'well-formed create', expect: 'allow', build: (v) => ({ event: createEvent(v), state: none }) },
  {
    name: 'create with prev_events',
    expect: 'deny',
    build: (v) => ({ event: { ...createEvent(v), prev_events: ['$x:a.org'] }, state: none }),
  },
  {
    name: 'create whose room_id domain differs from the sender',
    when: (v) => !v.roomIdFromCreateEvent,
    expect: 'deny',
    build: (v) => ({ event: { ...createEvent(v), room_id: '!room:elsewhere.org' }, state: none }),
  },
  {
    name: 'create with a room_id not derived from its event ID',
    when: (v) => v.roomIdFromCreateEvent,
    expect: 'deny',
    build: (v) => ({ event: { ...createEvent(v), room_id: '!somethingelse' }, state: none }),
  },
  {
    name: 'create with an unknown room_version',
    expect: 'deny',
    build: (v) => ({ event: createEvent(v, ALICE, { room_version: '999' }), state: none }),
  },
  {
    name: 'create with a non-string room_version',
    expect: 'deny',
    build: (v) => ({ event: createEvent(v, ALICE, { room_version: 5 }), state: none }),
  },
  {
    name: 'create without room_version',
    expect: 'allow',
    build: (v) => {
      const e = createEvent(v);
      const { room_version: _r, ...content } = e.content;
      return { event: { ...e, content }, state: none };
    },
  },
  {
    name: 'create without creator',
    expect: (v) => (v.implicitRoomCreator ? 'allow' : 'deny'),
    build: (v) => {
      const e = createEvent(v);
      const { creator: _c, ...content } = e.content;
      return { event: { ...e, content }, state: none };
    },
  },
  {
    name: 'create with valid additional_creators',
    expect: 'allow',
    build: (v) => ({ event: createEvent(v, ALICE, { additional_creators: [BOB, '@historic USER:b.org'] }), state: none }),
  },
  {
    name: 'create with non-array additional_creators',
    expect: (v) => (v.privilegedCreators ? 'deny' : 'allow'),
    build: (v) => ({ event: createEvent(v, ALICE, { additional_creators: BOB }), state: none }),
  },
  {
    name: 'create with an invalid user ID in additional_creators',
    expect: (v) => (v.privilegedCreators ? 'deny' : 'allow'),
    build: (v) => ({ event: createEvent(v, ALICE, { additional_creators: [BOB, 'bob'] }), state: none }),
  },
  {
    name: 'create with a bad server name in additional_creators',
    expect: (v) => (v.privilegedCreators ? 'deny' : 'allow'),
    build: (v) => ({ event: createEvent(v, ALICE, { additional_creators: ['@bob:bad_server!'] }), state: none }),
  },
];
runAuthTable('m.room.create rules', createCases);

const generalCases: AuthCase[] = [
  {
    name: 'message with the create event in the auth state',
    expect: 'allow',
    build: (v) => {
      const room = makeRoom(v);
      return { event: ev(room, 'm.room.message', BOB, { body: 'hi' }), state: lookup(room) };
    },
  },
  {
    name: 'message without an m.room.create in the auth state',
    expect: 'deny',
    build: (v) => {
      const room = makeRoom(v);
      const state = lookup(room);
      return {
        event: ev(room, 'm.room.message', BOB, { body: 'hi' }),
        state: (t, k) => (t === 'm.room.create' ? undefined : state(t, k)),
      };
    },
  },
  {
    name: 'message when the create event was rejected', reason: /no m.room.create/,
    expect: 'deny',
    build: (v) => {
      const room = makeRoom(v);
      return { event: ev(room, 'm.room.message', BOB, { body: 'hi' }), state: lookup(room, { ...room.create, rejected: true }) };
    },
  },
  {
    name: 'message whose room_id does not belong to the create event', reason: /room/,
    expect: 'deny',
    build: (v) => {
      const room = makeRoom(v);
      return { event: { ...ev(room, 'm.room.message', BOB, { body: 'hi' }), room_id: '!other:a.org' }, state: lookup(room) };
    },
  },
  {
    name: 'auth state power levels from another room', reason: /another room/,
    expect: 'deny',
    build: (v) => {
      const room = makeRoom(v);
      const foreignPl = { ...room.state.get('m.room.power_levels\u0000')!, room_id: '!other:a.org' };
      return { event: ev(room, 'm.room.message', BOB, { body: 'hi' }), state: lookup(room, foreignPl) };
    },
  },
  {
    name: 'm.federate=false, sender on the creator server',
    expect: 'allow',
    build: (v) => {
      const room = makeRoom(v, { createContent: { 'm.federate': false }, joinRule: 'public' });
      return { event: memberEv(room, ZED, 'join'), state: lookup(room) };
    },
  },
  {
    name: 'm.federate=false, sender on another server', reason: /not federated/,
    expect: 'deny',
    build: (v) => {
      const room = makeRoom(v, { createContent: { 'm.federate': false }, joinRule: 'public' });
      return { event: memberEv(room, EVE, 'join'), state: lookup(room) };
    },
  },
  {
    name: 'm.federate=true, sender on another server',
    expect: 'allow',
    build: (v) => {
      const room = makeRoom(v, { createContent: { 'm.federate': true }, joinRule: 'public' });
      return { event: memberEv(room, EVE, 'join'), state: lookup(room) };
    },
  },
];
runAuthTable('auth state and m.federate', generalCases);
