/**
 * Test support: a database with only the migrations this package needs (so other domains' work in
 * progress cannot break these tests), a fake room world for the room lookups, an HTTP app, and a
 * worker's HTTP app that forwards its writes.
 */
import assert from 'node:assert/strict';
import { errors, silentLogger, type JsonObject, type StreamChange } from '@hs/core';
import type { Requester } from '@hs/http';
import { startTestApp, type TestApp } from '@hs/http/testing';
import type { ReplicatedWriterOptions } from '@hs/replication';
import { StreamWriter, applyMigrations, readMigrations } from '@hs/storage';
import { createTestDatabase, type TestDatabase } from '@hs/storage/testing';
import { createEphemeralHandlers, ephemeralEndpoints, ReplicatedPresence, ReplicatedReceiptsWriter, ReplicatedTypingWriter, type EphemeralDeps } from '../src/index.ts';
import { PresenceHandler } from '../src/presence-handler.ts';
import { TypingState } from '../src/typing-state.ts';

export async function ephemeralDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase({ migrate: false });
  await applyMigrations(db.sql, silentLogger, readMigrations().filter((m) => /^(0001|0007)_/.test(m.name)));
  return db;
}

/** A settable clock. */
export class FakeClock {
  t = 1_700_000_000_000;
  now = () => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

export interface FakeEvent {
  roomId: string;
  ordering: number;
  /** Thread IDs a receipt on this event may name (`main` for the main timeline). */
  threads: string[];
  /** Users who may not see it. */
  hiddenFrom?: string[];
}

/** Rooms, memberships, events and room account data, in memory. */
export class FakeWorld {
  joined = new Set<string>();
  events = new Map<string, FakeEvent>();
  roomAccountData = new Map<string, JsonObject>();

  join(roomId: string, ...userIds: string[]): void {
    for (const u of userIds) this.joined.add(`${roomId}|${u}`);
  }
  event(eventId: string, e: FakeEvent): void {
    this.events.set(eventId, e);
  }
  deps(): Pick<EphemeralDeps, 'isJoined' | 'canSeeEvent' | 'getEventStreamOrdering' | 'isEventInThread' | 'sharesRoomWith' | 'getRoomAccountData' | 'setRoomAccountData'> {
    return {
      isJoined: async (roomId, userId) => this.joined.has(`${roomId}|${userId}`),
      canSeeEvent: async (userId, roomId, eventId) => {
        const e = this.events.get(eventId);
        return !!e && e.roomId === roomId && !(e.hiddenFrom ?? []).includes(userId);
      },
      getEventStreamOrdering: async (roomId, eventId) => {
        const e = this.events.get(eventId);
        return e && e.roomId === roomId ? e.ordering : null;
      },
      isEventInThread: async (_roomId, eventId, threadId) => this.events.get(eventId)?.threads.includes(threadId) ?? false,
      sharesRoomWith: async (a, b) => {
        const rooms = (u: string) => new Set([...this.joined].filter((k) => k.endsWith(`|${u}`)).map((k) => k.split('|')[0]));
        const ra = rooms(a);
        return [...rooms(b)].some((r) => ra.has(r));
      },
      getRoomAccountData: async (userId, roomId, type) => this.roomAccountData.get(`${userId}|${roomId}|${type}`) ?? null,
      setRoomAccountData: async (userId, roomId, type, content) => {
        this.roomAccountData.set(`${userId}|${roomId}|${type}`, content);
      },
    };
  }
}

/** `Authorization: Bearer <user ID>` authenticates as that user. */
export async function authenticate(req: { headers: Record<string, unknown> }): Promise<Requester> {
  const h = req.headers.authorization;
  if (typeof h !== 'string' || !h.startsWith('Bearer @')) throw errors.missingToken();
  return { userId: h.slice('Bearer '.length), deviceId: 'DEV', isGuest: false, isAdmin: false };
}

export interface Harness {
  db: TestDatabase;
  app: TestApp;
  world: FakeWorld;
  clock: FakeClock;
  typing: TypingState;
  presence: PresenceHandler;
  receiptsStream: StreamWriter;
  presenceStream: StreamWriter;
  changes: StreamChange[];
  call(method: string, path: string, opts?: { as?: string; body?: unknown; raw?: string }): Promise<{ status: number; json: Record<string, unknown> }>;
  close(): Promise<void>;
}

export async function startHarness(opts: { presenceEnabled?: boolean } = {}): Promise<Harness> {
  const db = await ephemeralDatabase();
  const world = new FakeWorld();
  const clock = new FakeClock();
  const changes: StreamChange[] = [];
  const notify = (c: StreamChange) => void changes.push(c);
  const receiptsStream = await StreamWriter.open(db.sql, 'receipts', 'test', silentLogger);
  const presenceStream = await StreamWriter.open(db.sql, 'presence', 'test', silentLogger);
  const typing = new TypingState({ notify, clock: clock.now, autoTick: false, tickMs: 1000 });
  const presenceEnabled = opts.presenceEnabled ?? true;
  const presence = await PresenceHandler.start({
    sql: db.sql,
    stream: presenceStream,
    notify,
    serverName: 'test',
    enabled: presenceEnabled,
    clock: clock.now,
    autoTick: false,
    tickMs: 1000,
  });
  const handlers = createEphemeralHandlers({
    sql: db.sql,
    serverName: 'test',
    log: silentLogger,
    notify,
    receiptsStream,
    typing,
    presence,
    presenceEnabled,
    clock: clock.now,
    ...world.deps(),
  });
  const app = await startTestApp({ endpoints: ephemeralEndpoints, handlers, authenticate });
  return {
    db,
    app,
    world,
    clock,
    typing,
    presence,
    receiptsStream,
    presenceStream,
    changes,
    async call(method, path, o = {}) {
      const headers: Record<string, string> = {};
      if (o.as) headers.authorization = `Bearer ${o.as}`;
      const res = await fetch(app.baseUrl + path, {
        method,
        headers,
        body: o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body)),
      });
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    },
    async close() {
      typing.close();
      await presence.close();
      await app.close();
      await db.close();
    },
  };
}

/**
 * A worker's app: receipts and typing are forwarded with `opts`, and presence through `presence`
 * (without one, presence is off); reads come from `db` and `world`. A worker announces nothing itself.
 */
export function startWorkerApp(
  db: TestDatabase,
  world: FakeWorld,
  opts: ReplicatedWriterOptions,
  extra: { presence?: ReplicatedPresence; clock?: () => number } = {},
): Promise<TestApp> {
  return startTestApp({
    endpoints: ephemeralEndpoints,
    handlers: createEphemeralHandlers({
      sql: db.sql,
      serverName: 'test',
      log: silentLogger,
      notify: () => assert.fail('a worker announces nothing itself'),
      receiptsWriter: new ReplicatedReceiptsWriter(opts),
      typing: new ReplicatedTypingWriter(opts),
      presence: extra.presence ?? new ReplicatedPresence({ ...opts, instanceName: 'worker1', enabled: false }),
      presenceEnabled: extra.presence !== undefined,
      ...(extra.clock ? { clock: extra.clock } : {}),
      ...world.deps(),
    }),
    authenticate,
  });
}

export const enc = encodeURIComponent;
