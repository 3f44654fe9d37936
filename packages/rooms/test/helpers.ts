/** Test support: a migrated database, the rooms service, and its endpoints served over real HTTP. */
import { errors } from '@hs/core';
import type { StreamChange } from '@hs/core';
import { keyPairFromSeed } from '@hs/events';
import type { Requester } from '@hs/http';
import { startTestApp } from '@hs/http/testing';
import type { TestApp } from '@hs/http/testing';
import type { StreamWriter } from '@hs/storage';
import type { TestDatabase } from '@hs/storage/testing';
import type { MemberProfile, RoomsDeps } from '../src/deps.ts';
import { createRoomsHandlers } from '../src/handlers.ts';
import { roomsEndpoints } from '../src/endpoints.ts';
import type { RoomsService } from '../src/rooms-service.ts';
import { callJson, startRoomsTestBed } from '../src/testing.ts';

export const SERVER = 'test.local';
export const KEY = { keyId: 'ed25519:t1', secretKey: keyPairFromSeed(new Uint8Array(32).fill(7)).secretKey };

export interface Harness {
  readonly db: TestDatabase;
  readonly service: RoomsService;
  readonly app: TestApp;
  readonly notified: StreamChange[];
  readonly profiles: Map<string, MemberProfile>;
  readonly writer: StreamWriter;
  /** Call the API as `user` (token `user|device`, or `guest:user` for a guest). */
  call(user: string | undefined, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }>;
  close(): Promise<void>;
}

export async function startHarness(overrides: Partial<RoomsDeps> = {}): Promise<Harness> {
  const { db, writer, service, deps, notified, profiles } = await startRoomsTestBed({ serverName: SERVER, serverKey: KEY, overrides });
  const app = await startTestApp({
    endpoints: roomsEndpoints,
    handlers: createRoomsHandlers(deps, service),
    authenticate: async (req) => {
      const h = req.headers.authorization;
      if (!h?.startsWith('Bearer ')) throw errors.missingToken();
      const token = h.slice(7);
      const guest = token.startsWith('guest:');
      const [userId, deviceId] = (guest ? token.slice(6) : token).split('|');
      const r: Requester = { userId: userId as string, deviceId: deviceId ?? 'DEV', isGuest: guest, isAdmin: false };
      return r;
    },
  });
  return {
    db,
    service,
    app,
    notified,
    profiles,
    writer,
    call: (user, method, path, body) => callJson(app.baseUrl, user, method, path, body),
    async close() {
      await app.close();
      await writer.flush();
      await db.close();
    },
  };
}

export const C = '/_matrix/client/v3';
export const enc = encodeURIComponent;
