/**
 * Test support: a database with only the migrations this package needs, fake room and account
 * lookups, and the endpoints served over HTTP.
 */
import { errors, silentLogger, type JsonObject, type StreamChange } from '@hs/core';
import type { Requester } from '@hs/http';
import { startTestApp, type TestApp } from '@hs/http/testing';
import { StreamWriter, applyMigrations, readMigrations } from '@hs/storage';
import { createTestDatabase, type TestDatabase } from '@hs/storage/testing';
import { accountDataEndpoints, createAccountDataHandlers, type AccountDataDeps } from '../src/index.ts';

export async function accountDataDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase({ migrate: false });
  await applyMigrations(db.sql, silentLogger, readMigrations().filter((m) => /^(0001|0007)_/.test(m.name)));
  return db;
}

export async function authenticate(req: { headers: Record<string, unknown> }): Promise<Requester> {
  const h = req.headers.authorization;
  if (typeof h !== 'string' || !h.startsWith('Bearer @')) throw errors.missingToken();
  return { userId: h.slice('Bearer '.length), deviceId: 'DEV', isGuest: false, isAdmin: false };
}

export class FakeRooms {
  rooms = new Set<string>();
  joined = new Set<string>();
  /** eventId → room it is in. */
  events = new Map<string, string>();
  users = new Set<string>();
  pushRules = new Map<string, JsonObject>();

  deps(): Pick<AccountDataDeps, 'canSeeEvent' | 'isJoined' | 'roomExists' | 'userExists' | 'getPushRules'> {
    return {
      canSeeEvent: async (_userId, roomId, eventId) => this.events.get(eventId) === roomId,
      isJoined: async (roomId, userId) => this.joined.has(`${roomId}|${userId}`),
      roomExists: async (roomId) => this.rooms.has(roomId),
      userExists: async (userId) => this.users.has(userId),
      getPushRules: async (userId) => this.pushRules.get(userId) ?? { global: {} },
    };
  }
}

export interface Harness {
  db: TestDatabase;
  app: TestApp;
  rooms: FakeRooms;
  stream: StreamWriter;
  changes: StreamChange[];
  clock: { t: number };
  call(method: string, path: string, opts?: { as?: string; body?: unknown; raw?: string }): Promise<{ status: number; json: Record<string, unknown> }>;
  close(): Promise<void>;
}

export async function startHarness(extra: Partial<AccountDataDeps> = {}): Promise<Harness> {
  const db = await accountDataDatabase();
  const rooms = new FakeRooms();
  const changes: StreamChange[] = [];
  const clock = { t: 1_700_000_000_000 };
  const stream = await StreamWriter.open(db.sql, 'account_data', 'test', silentLogger);
  const handlers = createAccountDataHandlers({
    sql: db.sql,
    serverName: 'test',
    log: silentLogger,
    notify: (c) => void changes.push(c),
    accountDataStream: stream,
    clock: () => clock.t,
    ...rooms.deps(),
    ...extra,
  });
  const app = await startTestApp({ endpoints: accountDataEndpoints, handlers, authenticate });
  return {
    db,
    app,
    rooms,
    stream,
    changes,
    clock,
    async call(method, path, o = {}) {
      const headers: Record<string, string> = {};
      if (o.as) headers.authorization = `Bearer ${o.as}`;
      const res = await fetch(app.baseUrl + path, { method, headers, body: o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body)) });
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    },
    async close() {
      await app.close();
      await db.close();
    },
  };
}

export const enc = encodeURIComponent;
