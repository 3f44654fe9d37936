import test from 'node:test';
import assert from 'node:assert/strict';
import type { JsonObject } from '@hs/core';
import { C, SERVER, startHarness } from './helpers.ts';
import type { Harness } from './helpers.ts';

let h: Harness;
test.before(async () => {
  h = await startHarness();
  h.profiles.set(`@alice:${SERVER}`, { displayname: 'Alice', avatar_url: 'mxc://x/a' });
});
test.after(() => h.close());

const alice = `@alice:${SERVER}`;
const bob = `@bob:${SERVER}`;

async function state(roomId: string): Promise<Map<string, JsonObject>> {
  const events = await h.service.store.getCurrentStateEvents(roomId);
  return new Map(events.map((e) => [`${e.type}|${e.stateKey}`, e.pdu.content]));
}

async function timeline(roomId: string) {
  return h.service.store.getEventsInRoom(roomId, 0, Number.MAX_SAFE_INTEGER, 100, 'f');
}

async function create(body: unknown, user = alice) {
  const r = await h.call(user, 'POST', `${C}/createRoom`, body);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json.room_id as string;
}

const PRESETS = {
  private_chat: { join: 'invite', guest: 'can_join', invite: 0 },
  trusted_private_chat: { join: 'invite', guest: 'can_join', invite: 0 },
  public_chat: { join: 'public', guest: 'forbidden', invite: 50 },
} as const;

for (const version of ['10', '11', '12'] as const) {
  for (const preset of Object.keys(PRESETS) as Array<keyof typeof PRESETS>) {
    test(`createRoom v${version} ${preset}: state follows the preset and the room version's creator rules`, async () => {
      const roomId = await create({ room_version: version, preset, invite: [bob] });
      const s = await state(roomId);
      const createContent = s.get('m.room.create|') as JsonObject;
      assert.equal(createContent.room_version, version);
      assert.equal(createContent.creator, version === '10' ? alice : undefined, 'creator key only before v11');

      const pl = s.get('m.room.power_levels|') as JsonObject;
      const users = pl.users as JsonObject;
      const events = pl.events as JsonObject;
      assert.equal(pl.invite, PRESETS[preset].invite);
      assert.equal(pl.state_default, 50);
      if (version === '12') {
        assert.equal(users[alice], undefined, 'v12 creators are not listed in users');
        assert.ok((events['m.room.tombstone'] as number) > (pl.state_default as number), 'v12 tombstone above state_default');
        assert.equal(events['m.room.tombstone'], 150);
        assert.equal(roomId, `!${(await timeline(roomId))[0]?.eventId.slice(1)}`, 'v12 room ID derives from the create event');
        const createPdu = (await timeline(roomId))[0]?.pdu;
        assert.equal(createPdu?.room_id, undefined, 'v12 create event has no room_id');
      } else {
        assert.equal(users[alice], 100);
        assert.equal(events['m.room.tombstone'], 100);
        assert.match(roomId, new RegExp(`^![A-Za-z]{18}:${SERVER.replace('.', '\\.')}$`));
      }
      if (preset === 'trusted_private_chat') {
        if (version === '12') {
          assert.deepEqual(createContent.additional_creators, [bob], 'trusted invitees become creators in v12');
          assert.equal(users[bob], undefined);
        } else {
          assert.equal(users[bob], 100, 'trusted invitees get the creator’s power');
          assert.equal(createContent.additional_creators, undefined);
        }
      } else {
        assert.equal(users[bob], undefined);
        assert.equal(createContent.additional_creators, undefined);
      }
      assert.deepEqual(s.get('m.room.join_rules|'), { join_rule: PRESETS[preset].join });
      assert.deepEqual(s.get('m.room.history_visibility|'), { history_visibility: 'shared' });
      assert.deepEqual(s.get('m.room.guest_access|'), { guest_access: PRESETS[preset].guest });
      assert.deepEqual(s.get(`m.room.member|${alice}`), { membership: 'join', displayname: 'Alice', avatar_url: 'mxc://x/a' });
      assert.equal(s.get(`m.room.member|${bob}`)?.membership, 'invite');
    });
  }
}

test('createRoom: events come in the spec order and name/topic override initial_state', async () => {
  const roomId = await create({
    room_version: '11',
    preset: 'private_chat',
    room_alias_name: 'ordered',
    name: 'The name',
    topic: 'The topic',
    invite: [bob],
    is_direct: true,
    initial_state: [
      { type: 'm.room.name', content: { name: 'overridden' } },
      { type: 'm.room.guest_access', state_key: '', content: { guest_access: 'forbidden' } },
      { type: 'org.example.custom', state_key: 'k', content: { a: 1 } },
    ],
  });
  const types = (await timeline(roomId)).map((e) => `${e.type}${e.stateKey ? `|${e.stateKey}` : ''}`);
  assert.deepEqual(types, [
    'm.room.create',
    `m.room.member|${alice}`,
    'm.room.power_levels',
    'm.room.canonical_alias',
    'm.room.join_rules',
    'm.room.history_visibility',
    // guest_access from initial_state replaces the preset's
    'm.room.name',
    'm.room.guest_access',
    'org.example.custom|k',
    'm.room.name',
    'm.room.topic',
    `m.room.member|${bob}`,
  ]);
  const s = await state(roomId);
  assert.equal(s.get('m.room.name|')?.name, 'The name');
  assert.deepEqual(s.get('m.room.topic|'), { topic: 'The topic', 'm.topic': { 'm.text': [{ body: 'The topic', mimetype: 'text/plain' }] } });
  assert.deepEqual(s.get('m.room.guest_access|'), { guest_access: 'forbidden' });
  assert.deepEqual(s.get('m.room.canonical_alias|'), { alias: `#ordered:${SERVER}` });
  assert.equal(s.get(`m.room.member|${bob}`)?.is_direct, true);
  assert.equal(await h.service.store.resolveAlias(`#ordered:${SERVER}`), roomId);
});

test('createRoom: visibility picks the preset and publishes the room; creation_content and override apply', async () => {
  const roomId = await create({
    visibility: 'public',
    creation_content: { 'm.federate': false, creator: '@mallory:x', room_version: '1' },
    power_level_content_override: { events_default: 10, users: { [alice]: 100, [bob]: 50 } },
    room_version: '11',
  });
  const s = await state(roomId);
  assert.deepEqual(s.get('m.room.join_rules|'), { join_rule: 'public' });
  assert.equal(s.get('m.room.create|')?.['m.federate'], false);
  assert.equal(s.get('m.room.create|')?.room_version, '11', 'the server overwrites room_version');
  assert.equal(s.get('m.room.create|')?.creator, undefined, 'and creator');
  const pl = s.get('m.room.power_levels|') as JsonObject;
  assert.equal(pl.events_default, 10);
  assert.deepEqual(pl.users, { [alice]: 100, [bob]: 50 });
  assert.equal((await h.service.store.getRoomInfo(roomId))?.isPublic, true);
  const priv = await create({});
  assert.equal((await h.service.store.getRoomInfo(priv))?.isPublic, false);
  assert.equal((await state(priv)).get('m.room.join_rules|')?.join_rule, 'invite');
});

test('createRoom: default version is 12; v12 additional_creators from creation_content merge with trusted invitees', async () => {
  const carol = `@carol:${SERVER}`;
  const roomId = await create({ preset: 'trusted_private_chat', invite: [bob], creation_content: { additional_creators: [carol, bob] } });
  const s = await state(roomId);
  assert.equal(s.get('m.room.create|')?.room_version, '12');
  assert.deepEqual(s.get('m.room.create|')?.additional_creators, [carol, bob]);
});

test('createRoom errors: unknown version, bad alias, alias taken, impossible state, remote invite, guests', async () => {
  let r = await h.call(alice, 'POST', `${C}/createRoom`, { room_version: '99' });
  assert.equal(r.status, 400);
  assert.equal(r.json.errcode, 'M_UNSUPPORTED_ROOM_VERSION');

  r = await h.call(alice, 'POST', `${C}/createRoom`, { room_alias_name: 'has:colon' });
  assert.equal(r.json.errcode, 'M_INVALID_PARAM');

  await create({ room_alias_name: 'taken' });
  r = await h.call(bob, 'POST', `${C}/createRoom`, { room_alias_name: 'taken' });
  assert.equal(r.status, 400);
  assert.equal(r.json.errcode, 'M_ROOM_IN_USE');

  // The creator drops their own power below what setting the name needs.
  const before = await h.service.store.sql`SELECT count(*)::int AS n FROM rooms`;
  r = await h.call(alice, 'POST', `${C}/createRoom`, {
    room_version: '11',
    name: 'x',
    power_level_content_override: { users: { [alice]: 0 } },
  });
  assert.equal(r.status, 400);
  assert.equal(r.json.errcode, 'M_INVALID_ROOM_STATE');
  const after = await h.service.store.sql`SELECT count(*)::int AS n FROM rooms`;
  assert.equal(after[0]?.n, before[0]?.n, 'nothing of the failed room was stored');

  // v12: creators may not appear in power levels.
  r = await h.call(alice, 'POST', `${C}/createRoom`, { power_level_content_override: { users: { [alice]: 100 } } });
  assert.equal(r.json.errcode, 'M_INVALID_ROOM_STATE');

  r = await h.call(alice, 'POST', `${C}/createRoom`, { invite: ['@remote:elsewhere.example'] });
  assert.equal(r.status, 403);

  r = await h.call(alice, 'POST', `${C}/createRoom`, { invite_3pid: [{ id_server: 'i', id_access_token: 't', medium: 'email', address: 'a@b' }] });
  assert.equal(r.status, 400);

  r = await h.call(`guest:@g:${SERVER}`, 'POST', `${C}/createRoom`, {});
  assert.equal(r.status, 403);
  assert.equal(r.json.errcode, 'M_GUEST_ACCESS_FORBIDDEN');
});

test('createRoom: malformed bodies are 4xx, never 5xx', async () => {
  const cases: Array<[unknown, string]> = [
    [{ preset: 'secret_chat' }, 'M_INVALID_PARAM'],
    [{ visibility: 'hidden' }, 'M_INVALID_PARAM'],
    [{ invite: 'bob' }, 'M_BAD_JSON'],
    [{ invite: ['not-a-user'] }, 'M_INVALID_PARAM'],
    [{ initial_state: [{ type: 'x' }] }, 'M_MISSING_PARAM'],
    [{ initial_state: [{ type: 'x', content: 'no' }] }, 'M_BAD_JSON'],
    [{ name: 5 }, 'M_BAD_JSON'],
    [{ creation_content: [] }, 'M_BAD_JSON'],
    [{ room_version: 12 }, 'M_BAD_JSON'],
    [{ is_direct: 'yes' }, 'M_BAD_JSON'],
    [{ power_level_content_override: { users: { [alice]: 'lots' } }, room_version: '11' }, 'M_INVALID_ROOM_STATE'],
    [{ name: 1.5 }, 'M_BAD_JSON'],
    [{ initial_state: [{ type: 'x', content: { n: 1.5 } }] }, 'M_BAD_JSON'],
  ];
  for (const [body, errcode] of cases) {
    const r = await h.call(alice, 'POST', `${C}/createRoom`, body);
    assert.equal(r.status, 400, `${JSON.stringify(body)} → ${r.status} ${JSON.stringify(r.json)}`);
    assert.equal(r.json.errcode, errcode, JSON.stringify(body));
  }
  const r = await h.call(alice, 'POST', `${C}/createRoom`, '{not json');
  assert.equal(r.status, 400);
  assert.equal(r.json.errcode, 'M_NOT_JSON');
});
