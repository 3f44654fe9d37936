/**
 * Test support for this package and the ones built on it (never imported by products): a rooms service
 * over a fresh migrated test database, and a JSON client for an app served by `startTestApp`.
 */
import { silentLogger } from '@hs/core';
import type { StreamChange } from '@hs/core';
import { StreamWriter } from '@hs/storage';
import { createTestDatabase } from '@hs/storage/testing';
import type { TestDatabase } from '@hs/storage/testing';
import type { MemberProfile, RoomsDeps } from './deps.ts';
import { RoomsService } from './rooms-service.ts';

export interface RoomsTestBed {
  readonly db: TestDatabase;
  readonly writer: StreamWriter;
  readonly service: RoomsService;
  /** The deps the service was built with (to build its handlers from). */
  readonly deps: RoomsDeps;
  /** Every change passed to `notify`. */
  readonly notified: StreamChange[];
  /** What `getProfile` answers, by user ID. */
  readonly profiles: Map<string, MemberProfile>;
}

/** A migrated database, an `events` stream writer and a RoomsService signing with `serverKey`. */
export async function startRoomsTestBed(opts: { serverName: string; serverKey: RoomsDeps['serverKey']; overrides?: Partial<RoomsDeps> }): Promise<RoomsTestBed> {
  const db = await createTestDatabase();
  const writer = await StreamWriter.open(db.sql, 'events', 'test', silentLogger);
  const notified: StreamChange[] = [];
  const profiles = new Map<string, MemberProfile>();
  const deps: RoomsDeps = {
    sql: db.sql,
    serverName: opts.serverName,
    log: silentLogger,
    notify: (c) => notified.push(c),
    serverKey: opts.serverKey,
    eventsWriter: writer,
    getProfile: async (u) => profiles.get(u) ?? {},
    ...opts.overrides,
  };
  return { db, writer, service: new RoomsService(deps), deps, notified, profiles };
}

export interface JsonReply {
  status: number;
  json: any;
}

/** One request with an optional bearer token; a string body is sent as is, anything else as JSON; a non-JSON answer comes back as text. */
export async function callJson(baseUrl: string, token: string | undefined, method: string, path: string, body?: unknown): Promise<JsonReply> {
  const res = await fetch(baseUrl + path, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json };
}
