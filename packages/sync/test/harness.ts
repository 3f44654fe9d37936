/**
 * Test harness: one migrated database, the real handlers of accounts, rooms, ephemeral, account data,
 * push, e2ee and sync behind one listener app, a real Notifier as every domain's `notify`, and a
 * StreamWriter per stream (the token is built from their positions, as the process wiring does).
 */
import { getProfile, createAccountsHandlers, accountsEndpoints, createAuthenticator } from '@hs/accounts';
import type { AccountsAuthenticator } from '@hs/accounts';
import { LocalAccountDataWriter, accountDataEndpoints, createAccountDataHandlers, getRoomAccountData } from '@hs/account-data';
import type { SyncToken, StreamChange } from '@hs/core';
import { MatrixError, silentLogger, SYNC_TOKEN_STREAMS } from '@hs/core';
import { createE2ee, e2eeEndpoints } from '@hs/e2ee';
import type { E2ee } from '@hs/e2ee';
import { PresenceHandler, TypingState, createEphemeralHandlers, ephemeralEndpoints } from '@hs/ephemeral';
import { keyPairFromSeed } from '@hs/events';
import type { EndpointDecl, Handler } from '@hs/http';
import { startTestApp } from '@hs/http/testing';
import type { TestApp } from '@hs/http/testing';
import { computePushActions, createPushHandlers, planPushActions, pushEndpoints } from '@hs/push';
import { RoomLookups, RoomsService, createRoomsHandlers, roomsEndpoints } from '@hs/rooms';
import { callJson } from '@hs/rooms/testing';
import { StreamWriter } from '@hs/storage';
import { createTestDatabase } from '@hs/storage/testing';
import type { TestDatabase } from '@hs/storage/testing';
import type { SyncDeps } from '../src/deps.ts';
import { createSyncHandlers } from '../src/handlers.ts';
import { Notifier } from '../src/notifier.ts';
import { presenceAwareNotify } from '../src/presence-notify.ts';
import { SyncChangeCaches } from '../src/stream-change-cache.ts';
import { syncEndpoints } from '../src/endpoints.ts';

export const SERVER = 'sync.test';
export const V3 = '/_matrix/client/v3';
const KEY = { keyId: 'ed25519:s1', secretKey: keyPairFromSeed(new Uint8Array(32).fill(9)).secretKey };

export interface TestUser {
  readonly userId: string;
  readonly deviceId: string;
  readonly token: string;
}

export interface Res {
  status: number;
  json: any;
}

const STREAMS = ['events', 'receipts', 'presence', 'account_data', 'push_rules', 'to_device', 'device_lists'] as const;
type WrittenStream = (typeof STREAMS)[number];

export interface Harness {
  readonly db: TestDatabase;
  readonly app: TestApp;
  readonly notifier: Notifier;
  readonly rooms: RoomsService;
  readonly typing: TypingState;
  readonly presence: PresenceHandler;
  readonly e2ee: E2ee;
  readonly writers: Readonly<Record<WrittenStream, StreamWriter>>;
  readonly notifications: StreamChange[];
  /** The deps the sync handlers were built with (tests build variants from them). */
  readonly syncDeps: SyncDeps;
  currentToken(): SyncToken;
  register(localpart: string): Promise<TestUser>;
  /** A second login (new device) for an existing user. */
  login(localpart: string): Promise<TestUser>;
  call(user: TestUser | undefined, method: string, path: string, body?: unknown): Promise<Res>;
  /** GET /sync with query parameters; returns the response. */
  sync(user: TestUser, params?: Record<string, string | number | boolean | object>): Promise<Res>;
  /** Create a room as `user` (POST /createRoom); returns its ID. */
  createRoom(user: TestUser, body?: object): Promise<string>;
  send(user: TestUser, roomId: string, body: string, type?: string): Promise<string>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  readonly sync?: Partial<SyncDeps>;
  readonly typingTickMs?: number;
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const db = await createTestDatabase();
  const sql = db.sql;
  const log = silentLogger;
  const writers = Object.fromEntries(
    await Promise.all(STREAMS.map(async (s) => [s, await StreamWriter.open(sql, s, 'main', log)] as const)),
  ) as Record<WrittenStream, StreamWriter>;
  const notifier = new Notifier();
  const notifications: StreamChange[] = [];
  const wakeSync = presenceAwareNotify(notifier, sql, log);
  // As in the server: caches learn of a change at once, long-polls wake once the position includes it.
  const changes = new SyncChangeCaches({ events: writers.events.position, accountData: writers.account_data.position, receipts: writers.receipts.position });
  const held: StreamChange[] = [];
  const notify = (c: StreamChange) => {
    notifications.push(c);
    changes.apply(c);
    const w = (writers as Record<string, StreamWriter>)[c.stream];
    if (w && c.position > w.position) held.push(c);
    else wakeSync(c);
  };
  for (const [stream, w] of Object.entries(writers)) {
    w.onAdvance((pos) => {
      for (let i = 0; i < held.length; ) {
        const c = held[i] as StreamChange;
        if (c.stream === stream && c.position <= pos) {
          held.splice(i, 1);
          wakeSync(c);
        } else i++;
      }
    });
  }
  const typing = new TypingState({ notify, tickMs: opts.typingTickMs ?? 1000 });
  const presence = await PresenceHandler.start({ sql, stream: writers.presence, notify, serverName: SERVER, enabled: true, autoTick: false });

  let e2ee: E2ee | undefined;
  const rooms = new RoomsService({
    sql,
    serverName: SERVER,
    log,
    notify,
    serverKey: KEY,
    eventsWriter: writers.events,
    getProfile: async (u) => (await getProfile(sql, u)) ?? {},
    // As the homeserver does: notification counts are ready when /sync wakes.
    onPersisted: async (events) => {
      await computePushActions({ sql, serverName: SERVER, log }, events);
    },
    deriveWithCommit: async (events) => {
      const plan = await planPushActions({ sql, serverName: SERVER, log }, events);
      return (tx, orderings) => plan.write(tx, orderings).statements;
    },
  });
  const lookups = new RoomLookups(sql, rooms.store);
  e2ee = createE2ee({
    sql,
    serverName: SERVER,
    log,
    notify,
    toDeviceWriter: writers.to_device,
    deviceListsWriter: writers.device_lists,
    listDevices: async (userIds) => {
      const rows = await sql<{ user_id: string; device_id: string; display_name: string | null }[]>`
        SELECT user_id, device_id, display_name FROM devices WHERE user_id = ANY(${userIds as string[]}::text[])`;
      return rows.map((r) => ({ userId: r.user_id, deviceId: r.device_id, displayName: r.display_name }));
    },
    requireUserInteractiveAuth: async () => {},
    ...lookups.bound(),
  });
  const accountData = new LocalAccountDataWriter({ sql, stream: writers.account_data, notify });
  const accountsDeps = {
    sql,
    serverName: SERVER,
    log,
    enableRegistration: true,
    registrationRequiresToken: false,
    allowGuestAccess: true,
    registrationSharedSecret: null,
    passwordHashing: { N: 1024 },
    onDevicesChanged: async (userId: string, deviceIds: readonly string[]) => {
      await e2ee?.markDevicesChanged(userId, deviceIds);
    },
    onProfileChanged: async (userId: string, profile: { displayname?: string; avatar_url?: string }) => {
      await rooms.updateMemberProfiles(userId, profile);
    },
  };
  const p = (n: number) => ({ min: n, ahead: new Map<number, number>() });
  const currentToken = (): SyncToken => {
    const t = Object.fromEntries(SYNC_TOKEN_STREAMS.map((s) => [s, p(0)])) as Record<string, ReturnType<typeof p>>;
    for (const s of STREAMS) t[s] = p(writers[s].position);
    t.typing = p(typing.position);
    return t as unknown as SyncToken;
  };
  const syncDeps: SyncDeps = { sql, log, notifier, currentToken, store: rooms.store, typing, presence, changes, unreadCounts: true, ...opts.sync };
  const handlerTables: Map<string, Handler>[] = [
    createAccountsHandlers(accountsDeps),
    createRoomsHandlers(rooms.deps, rooms),
    createEphemeralHandlers({
      sql,
      serverName: SERVER,
      log,
      notify,
      receiptsStream: writers.receipts,
      typing,
      presence,
      presenceEnabled: true,
      ...lookups.bound(),
      getRoomAccountData: (u, r, t) => getRoomAccountData(sql, u, r, t),
      setRoomAccountData: (u, r, t, c) => accountData.setRoom(u, r, t, c),
    }),
    createAccountDataHandlers({
      sql,
      serverName: SERVER,
      log,
      notify,
      accountDataWriter: accountData,
      ...lookups.bound(),
      userExists: async (u) => (await sql`SELECT 1 FROM users WHERE user_id = ${u}`).length > 0,
    }),
    createPushHandlers({ sql, log, notify, pushRulesWriter: writers.push_rules }),
    e2ee.handlers,
    createSyncHandlers(syncDeps),
  ];
  const handlers = new Map<string, Handler>();
  for (const t of handlerTables) for (const [k, v] of t) handlers.set(k, process.env.HS_TEST_LOG ? logged(k, v) : v);
  const endpoints: EndpointDecl[] = [...accountsEndpoints, ...roomsEndpoints, ...ephemeralEndpoints, ...accountDataEndpoints, ...pushEndpoints, ...e2eeEndpoints, ...syncEndpoints];
  const auth: AccountsAuthenticator = createAuthenticator({ sql, log });
  const app = await startTestApp({ endpoints, handlers, authenticate: auth });

  const call = (user: TestUser | undefined, method: string, path: string, body?: unknown): Promise<Res> => callJson(app.baseUrl, user?.token, method, path, body);
  const loginAs = async (localpart: string): Promise<TestUser> => {
    const res = await call(undefined, 'POST', `${V3}/login`, { type: 'm.login.password', identifier: { type: 'm.id.user', user: localpart }, password: `pw-${localpart}` });
    if (res.status !== 200) throw new Error(`login ${localpart}: ${JSON.stringify(res.json)}`);
    return { userId: res.json.user_id, deviceId: res.json.device_id, token: res.json.access_token };
  };

  return {
    db,
    app,
    notifier,
    rooms,
    typing,
    presence,
    e2ee,
    writers,
    notifications,
    syncDeps,
    currentToken,
    call,
    login: loginAs,
    async register(localpart) {
      const body = { username: localpart, password: `pw-${localpart}` };
      const first = await call(undefined, 'POST', `${V3}/register`, body);
      const done = await call(undefined, 'POST', `${V3}/register`, { ...body, auth: { type: 'm.login.dummy', session: first.json.session } });
      if (done.status !== 200) throw new Error(`register ${localpart}: ${JSON.stringify(done.json)}`);
      return { userId: done.json.user_id, deviceId: done.json.device_id, token: done.json.access_token };
    },
    async sync(user, params = {}) {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(params)) q.set(k, typeof v === 'object' ? JSON.stringify(v) : String(v));
      return call(user, 'GET', `${V3}/sync${q.size > 0 ? `?${q}` : ''}`);
    },
    async createRoom(user, body = {}) {
      const res = await call(user, 'POST', `${V3}/createRoom`, body);
      if (res.status !== 200) throw new Error(`createRoom: ${JSON.stringify(res.json)}`);
      return res.json.room_id;
    },
    async send(user, roomId, body, type = 'm.room.message') {
      const res = await call(user, 'PUT', `${V3}/rooms/${encodeURIComponent(roomId)}/send/${type}/t${Math.random().toString(36).slice(2)}`, { msgtype: 'm.text', body });
      if (res.status !== 200) throw new Error(`send: ${JSON.stringify(res.json)}`);
      return res.json.event_id;
    },
    async close() {
      await app.close();
      typing.close();
      await presence.close();
      await auth.close();
      for (const w of Object.values(writers)) await w.flush();
      await db.close();
    },
  };
}

/** HS_TEST_LOG=1: print unexpected handler errors (the test app logs nothing). */
function logged(name: string, h: Handler): Handler {
  return async (ctx) => {
    try {
      return await h(ctx);
    } catch (e) {
      if (!(e instanceof MatrixError)) console.error(`handler ${name} failed:`, e);
      throw e;
    }
  };
}

/** Event IDs of a room's timeline in a sync response. */
export function timelineIds(body: any, roomId: string, section = 'join'): string[] {
  return (body.rooms?.[section]?.[roomId]?.timeline?.events ?? []).map((e: any) => e.event_id);
}
