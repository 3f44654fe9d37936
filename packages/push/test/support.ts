/** Shared set-up for the tests: a database with only the migrations push needs, and a test app. */
import { errors, silentLogger, type StreamChange } from '@hs/core';
import type { Authenticator, Requester } from '@hs/http';
import { startTestApp, type TestApp } from '@hs/http/testing';
import { applyMigrations, readMigrations, StreamWriter } from '@hs/storage';
import { createTestDatabase, type TestDatabase } from '@hs/storage/testing';
import { createPushHandlers, pushEndpoints, type PushDeps } from '../src/index.ts';

export interface PushTestEnv {
  readonly db: TestDatabase;
  readonly app: TestApp;
  readonly changes: StreamChange[];
  readonly writer: StreamWriter;
  close(): Promise<void>;
}

/** `Authorization: Bearer <user ID>`; a `guest:` prefix makes a guest. */
export const authenticate: Authenticator = async (req) => {
  const header = req.headers.authorization ?? '';
  if (!header.startsWith('Bearer ')) throw errors.missingToken();
  const token = header.slice(7);
  const isGuest = token.startsWith('guest:');
  const requester: Requester = { userId: isGuest ? token.slice(6) : token, deviceId: 'DEV', isGuest, isAdmin: false };
  return requester;
};

/** Only our own tables (and the stream sequences): other domains' migrations are not our concern here. */
export async function pushDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase({ migrate: false });
  await applyMigrations(db.sql, silentLogger, readMigrations().filter((m) => m.name === '0001_streams.sql' || m.name === '0005_push.sql'));
  return db;
}

export async function startPushTestEnv(extra: Partial<PushDeps> = {}): Promise<PushTestEnv> {
  const db = await pushDatabase();
  const writer = await StreamWriter.open(db.sql, 'push_rules', 'test', silentLogger);
  const changes: StreamChange[] = [];
  const handlers = createPushHandlers({
    sql: db.sql,
    log: silentLogger,
    notify: (c) => changes.push(c),
    pushRulesWriter: writer,
    ...extra,
  });
  const app = await startTestApp({ endpoints: pushEndpoints, handlers, authenticate });
  return {
    db,
    app,
    changes,
    writer,
    async close() {
      await app.close();
      await writer.flush();
      await db.close();
    },
  };
}

/** A client for one user: `call('PUT', '/global/override/x', body)` under /_matrix/client/v3/pushrules. */
export function clientFor(env: PushTestEnv, userId: string) {
  return async (method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
    const res = await fetch(`${env.app.baseUrl}/_matrix/client/v3/pushrules${path}`, {
      method,
      headers: { Authorization: `Bearer ${userId}`, 'Content-Type': 'application/json' },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };
}
