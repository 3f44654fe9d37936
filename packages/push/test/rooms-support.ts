/**
 * Shared set-up for the notification tests: a fully migrated database, real rooms (the @hs/rooms
 * service) whose persister computes push actions through its `onPersisted` hook, the receipts
 * writer, and the notification and pusher endpoints over HTTP.
 */
import { silentLogger, type JsonObject, type StreamChange } from '@hs/core';
import { LocalReceiptsWriter } from '@hs/ephemeral';
import { keyPairFromSeed } from '@hs/events';
import { startTestApp, type TestApp } from '@hs/http/testing';
import { LocalEventPersister, RoomsService, StateStore, type NewlyPersistedEvent } from '@hs/rooms';
import { StreamWriter } from '@hs/storage';
import { createTestDatabase, type TestDatabase } from '@hs/storage/testing';
import {
  computePushActions,
  planPushActions,
  createLocalPushRulesUpdater,
  createPushNotificationHandlers,
  getPushActionsForEvent,
  pushNotificationEndpoints,
  PushRoomStateCache,
  PushRulesCache,
  SPEC_DEFAULT_PUSH_RULES,
  type PushActionsDeps,
  type PushRulesUpdater,
} from '../src/index.ts';
import { authenticate } from './support.ts';

export const SERVER = 'push.test';
const KEY = { keyId: 'ed25519:p1', secretKey: keyPairFromSeed(new Uint8Array(32).fill(3)).secretKey };

export const u = (name: string): string => `@${name}:${SERVER}`;

export interface RoomsEnv {
  readonly db: TestDatabase;
  readonly rooms: RoomsService;
  readonly app: TestApp;
  readonly changes: StreamChange[];
  readonly receipts: LocalReceiptsWriter;
  readonly rules: PushRulesUpdater;
  readonly cache: PushRulesCache;
  readonly roomStates: PushRoomStateCache;
  readonly actionsDeps: PushActionsDeps;
  /** Set false to persist events without computing push actions (the test calls computePushActions itself). */
  hook: boolean;
  /** Errors the onPersisted hook hit (none expected). */
  readonly hookErrors: string[];
  send(roomId: string, sender: string, content: JsonObject, type?: string): Promise<string>;
  join(roomId: string, userId: string): Promise<string>;
  leave(roomId: string, userId: string): Promise<string>;
  read(userId: string, roomId: string, eventId: string, opts?: { threadId?: string; type?: string }): Promise<void>;
  call(user: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }>;
  close(): Promise<void>;
}

export async function startRoomsEnv(): Promise<RoomsEnv> {
  const db = await createTestDatabase();
  const log = silentLogger;
  const changes: StreamChange[] = [];
  const notify = (c: StreamChange): void => void changes.push(c);
  const [eventsWriter, receiptsWriter, rulesWriter, pushersWriter] = await Promise.all(
    ['events', 'receipts', 'push_rules', 'pushers'].map((s) => StreamWriter.open(db.sql, s, 'test', log)),
  );
  const cache = new PushRulesCache();
  const roomStates = new PushRoomStateCache();
  const actionsDeps: PushActionsDeps = { sql: db.sql, serverName: SERVER, log, rulesCache: cache, roomStates };
  const hookErrors: string[] = [];
  const env = { hook: true } as { hook: boolean };
  const persister = new LocalEventPersister({
    sql: db.sql,
    writer: eventsWriter as StreamWriter,
    state: new StateStore(db.sql),
    serverName: SERVER,
    notify,
    log: { ...log, error: (msg: string, f?: Record<string, unknown>) => void hookErrors.push(`${msg} ${JSON.stringify(f)}`) },
    onPersisted: async (events: readonly NewlyPersistedEvent[]) => {
      if (env.hook) await computePushActions(actionsDeps, events);
    },
    // As the homeserver does: message-only batches commit their push actions with them.
    deriveWithCommit: async (events: readonly NewlyPersistedEvent[]) => {
      if (!env.hook) return () => [];
      const plan = await planPushActions(actionsDeps, events);
      return (tx, orderings) => plan.write(tx, orderings).statements;
    },
  });
  const rooms = new RoomsService({
    sql: db.sql,
    serverName: SERVER,
    log,
    notify,
    serverKey: KEY,
    eventsWriter: eventsWriter as StreamWriter,
    getProfile: async (userId) => ({ displayname: userId.slice(1, userId.indexOf(':')).replace(/^./, (c) => c.toUpperCase()) }),
    persister,
  });
  const receipts = new LocalReceiptsWriter({ sql: db.sql, stream: receiptsWriter as StreamWriter, notify });
  const rules = createLocalPushRulesUpdater({ sql: db.sql, writer: rulesWriter as StreamWriter, notify, log, defaults: SPEC_DEFAULT_PUSH_RULES });
  const handlers = createPushNotificationHandlers({ sql: db.sql, log, notify, serverName: SERVER, pushersWriter: pushersWriter as StreamWriter });
  const app = await startTestApp({ endpoints: pushNotificationEndpoints, handlers, authenticate });

  return Object.assign(env, {
    db,
    rooms,
    app,
    changes,
    receipts,
    rules,
    cache,
    roomStates,
    actionsDeps,
    hookErrors,
    async send(roomId: string, sender: string, content: JsonObject, type = 'm.room.message') {
      const { eventId } = await rooms.sendMessageEvent({ roomId, sender, type, content });
      return eventId;
    },
    async join(roomId: string, userId: string) {
      const { eventId } = await rooms.updateMembership({ roomId, sender: userId, target: userId, action: 'join' });
      return eventId;
    },
    async leave(roomId: string, userId: string) {
      const { eventId } = await rooms.updateMembership({ roomId, sender: userId, target: userId, action: 'leave' });
      return eventId;
    },
    async read(userId: string, roomId: string, eventId: string, opts: { threadId?: string; type?: string } = {}) {
      const ev = await rooms.store.getEvent(eventId);
      await receipts.insert({
        roomId,
        receiptType: opts.type ?? 'm.read',
        userId,
        eventId,
        ...(opts.threadId !== undefined ? { threadId: opts.threadId } : {}),
        eventStreamOrdering: ev?.streamOrdering ?? null,
        data: { ts: Date.now() },
      });
    },
    async call(user: string, method: string, path: string, body?: unknown) {
      const res = await fetch(app.baseUrl + path, {
        method,
        headers: { authorization: `Bearer ${user}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
      const text = await res.text();
      let json: unknown = text;
      try {
        json = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      return { status: res.status, json };
    },
    async close() {
      await app.close();
      await Promise.all([eventsWriter, receiptsWriter, rulesWriter, pushersWriter].map((w) => (w as StreamWriter).flush()));
      await db.close();
    },
  });
}

/** Who an event notified, and how, for assertions (user → outcome). */
export async function actionRows(env: RoomsEnv, eventId: string): Promise<Map<string, { notif: boolean; highlight: boolean; actions: unknown; thread_id: string }>> {
  const stored = await getPushActionsForEvent(env.db.sql, eventId);
  return new Map([...stored].map(([user, o]) => [user, { notif: o.notify, highlight: o.highlight, actions: o.actions, thread_id: o.threadId }]));
}
