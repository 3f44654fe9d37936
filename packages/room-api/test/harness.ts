/**
 * Test support: a migrated database, a real @hs/rooms service, and the rooms and room-api endpoints
 * served together over real HTTP. Tokens are `user|device`; `admin:` marks a server admin and
 * `guest:` a guest.
 */
import assert from 'node:assert/strict';
import { errors, silentLogger } from '@hs/core';
import type { StreamChange } from '@hs/core';
import { keyPairFromSeed } from '@hs/events';
import type { Authenticator } from '@hs/http';
import { startTestApp } from '@hs/http/testing';
import type { TestApp } from '@hs/http/testing';
import { createRoomsHandlers, roomsEndpoints } from '@hs/rooms';
import type { RoomsService } from '@hs/rooms';
import { callJson, startRoomsTestBed } from '@hs/rooms/testing';
import type { MemberProfile, RoomsDeps } from '@hs/rooms';
import type { StreamWriter } from '@hs/storage';
import type { TestDatabase } from '@hs/storage/testing';
import type { RoomApiDeps } from '../src/deps.ts';
import { createRoomApiHandlers, createRoomApiIndexer } from '../src/handlers.ts';
import { roomApiEndpoints } from '../src/endpoints.ts';
import type { RoomApiIndexer } from '../src/indexer.ts';

export const SERVER = 'test.local';
export const C = '/_matrix/client/v3';
export const C1 = '/_matrix/client/v1';
export const enc = encodeURIComponent;
const KEY = { keyId: 'ed25519:t1', secretKey: keyPairFromSeed(new Uint8Array(32).fill(9)).secretKey };

export const user = (name: string) => `@${name}:${SERVER}`;

export interface Reply {
  status: number;
  json: any;
}

export interface Harness {
  readonly db: TestDatabase;
  readonly rooms: RoomsService;
  readonly app: TestApp;
  readonly indexer: RoomApiIndexer;
  readonly writer: StreamWriter;
  readonly profiles: Map<string, MemberProfile>;
  readonly ignored: Map<string, Set<string>>;
  readonly notified: StreamChange[];
  call(token: string | undefined, method: string, path: string, body?: unknown): Promise<Reply>;
  /** `call`, asserting a 200. */
  ok(token: string | undefined, method: string, path: string, body?: unknown): Promise<any>;
  createRoom(creator: string, body?: unknown): Promise<string>;
  send(sender: string, roomId: string, content: unknown, type?: string): Promise<string>;
  state(sender: string, roomId: string, type: string, content: unknown, stateKey?: string): Promise<string>;
  member(actor: string, roomId: string, action: 'join' | 'leave' | 'invite' | 'ban' | 'kick' | 'forget', target?: string): Promise<void>;
  close(): Promise<void>;
}

export async function startHarness(overrides: Partial<RoomsDeps> = {}): Promise<Harness> {
  const { db, writer, service: rooms, deps: roomsDeps, notified, profiles } = await startRoomsTestBed({ serverName: SERVER, serverKey: KEY, overrides });
  const ignored = new Map<string, Set<string>>();
  const authenticate: Authenticator = async (req) => {
    const h = req.headers.authorization;
    if (!h?.startsWith('Bearer ')) throw errors.missingToken();
    let token = h.slice(7);
    const isAdmin = token.startsWith('admin:');
    if (isAdmin) token = token.slice(6);
    const isGuest = token.startsWith('guest:');
    if (isGuest) token = token.slice(6);
    if (token === 'bogus') throw errors.unknownToken('Unknown access token');
    const [userId, deviceId] = token.split('|');
    return { userId: userId as string, deviceId: deviceId ?? 'DEV', isGuest, isAdmin };
  };
  const base: RoomApiDeps = {
    sql: db.sql,
    serverName: SERVER,
    log: silentLogger,
    notify: (c) => notified.push(c),
    rooms,
    eventsPosition: () => writer.position,
    getIgnoredUsers: async (u) => ignored.get(u) ?? new Set(),
    authenticate,
  };
  const indexer = createRoomApiIndexer(base);
  const deps: RoomApiDeps = { ...base, indexer };
  const app = await startTestApp({
    endpoints: [...roomsEndpoints, ...roomApiEndpoints],
    handlers: new Map([...createRoomsHandlers(roomsDeps, rooms), ...createRoomApiHandlers(deps)]),
    authenticate,
  });
  let txn = 0;
  const call = (token: string | undefined, method: string, path: string, body?: unknown): Promise<Reply> => callJson(app.baseUrl, token, method, path, body);
  const ok = async (token: string | undefined, method: string, path: string, body?: unknown) => {
    const r = await call(token, method, path, body);
    assert.equal(r.status, 200, `${method} ${path}: ${JSON.stringify(r.json)}`);
    return r.json;
  };
  return {
    db,
    rooms,
    app,
    indexer,
    writer,
    profiles,
    ignored,
    notified,
    call,
    ok,
    async createRoom(creator, body = {}) {
      return (await ok(creator, 'POST', `${C}/createRoom`, body)).room_id as string;
    },
    async send(sender, roomId, content, type = 'm.room.message') {
      return (await ok(sender, 'PUT', `${C}/rooms/${enc(roomId)}/send/${enc(type)}/t${txn++}`, content)).event_id as string;
    },
    async state(sender, roomId, type, content, stateKey = '') {
      return (await ok(sender, 'PUT', `${C}/rooms/${enc(roomId)}/state/${enc(type)}/${enc(stateKey)}`, content)).event_id as string;
    },
    async member(actor, roomId, action, target) {
      await ok(actor, 'POST', `${C}/rooms/${enc(roomId)}/${action}`, target ? { user_id: target } : {});
    },
    async close() {
      await indexer.close();
      await app.close();
      await writer.flush();
      await db.close();
    },
  };
}

export const text = (body: string) => ({ msgtype: 'm.text', body });
