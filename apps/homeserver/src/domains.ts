/**
 * The Client-Server domains of one process, wired to each other through the narrow functions their
 * deps ask for. Everything here is composition: no domain logic lives in this file.
 */
import { emptySyncToken, positionOf, type JsonObject, type Logger, type NotifyFn, type SyncToken } from '@hs/core';
import type { Config, SigningKey } from '@hs/config';
import type { Authenticator, Handler } from '@hs/http';
import { createAccountDataHandlers, getIgnoredUsers, getIgnoredUsersOf, getRoomAccountData, LocalAccountDataWriter } from '@hs/account-data';
import { createRoomApiHandlers, createRoomApiIndexer, type RoomApiDeps } from '@hs/room-api';
import { createAccountsHandlers, createAuthenticator, getProfile, UserInteractiveAuth } from '@hs/accounts';
import { createE2ee } from '@hs/e2ee';
import { createEphemeralHandlers, PresenceHandler, TypingState } from '@hs/ephemeral';
import { createMediaHandlers } from '@hs/media';
import {
  computePushActions,
  createPushHandlers,
  createPushNotificationHandlers,
  getPushRulesAccountData,
  getUnreadCounts,
  type PushActionsDeps,
} from '@hs/push';
import { createRoomsHandlers, createRoomsService, RoomLookups, type RoomsDeps, type RoomsService } from '@hs/rooms';
import type { Sql, StreamWriter } from '@hs/storage';
import { createSyncHandlers, Notifier, presenceAwareNotify } from '@hs/sync';

export interface DomainContext {
  readonly config: Config;
  readonly sql: Sql;
  readonly log: Logger;
  readonly signingKey: SigningKey;
  /** Stream writers this process owns, by stream name. */
  readonly writers: ReadonlyMap<string, StreamWriter>;
}

export interface Domains {
  readonly handlers: Map<string, Handler>;
  readonly authenticate: Authenticator;
  readonly notifier: Notifier;
  readonly rooms: RoomsService;
  close(): Promise<void>;
}

function requireWriter(ctx: DomainContext, stream: string): StreamWriter {
  const w = ctx.writers.get(stream);
  // Until HTTP-replication forwarding exists, a process serves a stream's writes only if it writes it.
  if (!w) throw new Error(`this process does not write the ${stream} stream; run the Client-Server API on main`);
  return w;
}

export async function createDomains(ctx: DomainContext): Promise<Domains> {
  const { config, sql, log } = ctx;
  const serverName = config.serverName;
  const notifier = new Notifier();
  // Set once the room-api indexer exists: new events also schedule search/thread/directory indexing.
  let onEvents: (() => void) | undefined;
  // Presence changes name only the user; this also wakes the rooms they are in.
  const wake = presenceAwareNotify(notifier, sql, log);
  const notify: NotifyFn = (change) => {
    wake(change);
    if (change.stream === 'events') onEvents?.();
  };

  const pushActionsDeps: PushActionsDeps = {
    sql,
    serverName,
    log,
    getIgnoredUsers: (userIds) => getIgnoredUsersOf(sql, userIds),
  };
  const roomsDeps: RoomsDeps = {
    sql,
    serverName,
    log,
    notify,
    serverKey: { keyId: ctx.signingKey.keyId, secretKey: ctx.signingKey.secretKey },
    eventsWriter: requireWriter(ctx, 'events'),
    defaultRoomVersion: config.defaultRoomVersion,
    getProfile: async (userId) => (await getProfile(sql, userId)) ?? {},
    // Push actions are computed right after each commit, before /sync is woken, so counts are ready.
    onPersisted: async (events) => {
      await computePushActions(pushActionsDeps, events);
    },
  };
  const rooms = createRoomsService(roomsDeps);
  const lookups = new RoomLookups(sql, rooms.store);

  const uia = new UserInteractiveAuth({ sql, serverName, log });
  const userExists = async (userId: string) => (await sql`SELECT 1 FROM users WHERE name = ${userId}`).length > 0;

  const e2ee = createE2ee({
    sql,
    serverName,
    log,
    notify,
    toDeviceWriter: requireWriter(ctx, 'to_device'),
    deviceListsWriter: requireWriter(ctx, 'device_lists'),
    listDevices: async (userIds) => {
      const rows = await sql<{ user_id: string; device_id: string; display_name: string | null }[]>`
        SELECT user_id, device_id, display_name FROM devices WHERE user_id = ANY(${userIds as string[]})`;
      return rows.map((r) => ({ userId: r.user_id, deviceId: r.device_id, displayName: r.display_name }));
    },
    requireUserInteractiveAuth: async (rctx) => {
      await uia.requireUser(rctx, 'set up cross-signing keys');
    },
    ...lookups.bound(),
  });

  const accounts = createAccountsHandlers(
    {
      sql,
      serverName,
      log,
      enableRegistration: config.enableRegistration,
      registrationRequiresToken: config.registrationRequiresToken,
      allowGuestAccess: config.allowGuestAccess,
      registrationSharedSecret: config.registrationSharedSecret,
      onProfileChanged: async (userId, profile) => {
        await rooms.updateMemberProfiles(userId, profile);
      },
      onDevicesChanged: async (userId, deviceIds) => {
        const rows = await sql<{ device_id: string }[]>`
          SELECT device_id FROM devices WHERE user_id = ${userId} AND device_id = ANY(${deviceIds as string[]})`;
        const existing = new Set(rows.map((r) => r.device_id));
        const gone = deviceIds.filter((d) => !existing.has(d));
        if (gone.length > 0) await e2ee.deleteDevices(userId, gone);
        if (existing.size > 0) await e2ee.markDevicesChanged(userId, [...existing]);
      },
      onDeactivated: async (userId) => {
        for (const m of await rooms.store.getRoomsForUser(userId, ['join', 'invite', 'knock'])) {
          await rooms.updateMembership({ roomId: m.roomId, sender: userId, target: userId, action: 'leave' }).catch((e: unknown) =>
            log.warn('could not remove a deactivated user from a room', { user: userId, room: m.roomId, error: String(e) }),
          );
        }
      },
    },
    uia,
  );
  const authenticate = createAuthenticator({ sql, log });

  const accountDataWriter = new LocalAccountDataWriter({ sql, stream: requireWriter(ctx, 'account_data'), notify });
  const accountData = createAccountDataHandlers({
    sql,
    serverName,
    log,
    notify,
    accountDataWriter,
    defaultRoomVersion: config.defaultRoomVersion,
    ...lookups.bound(),
    userExists,
    getPushRules: async (userId) => (await getPushRulesAccountData(sql, userId)) as unknown as JsonObject,
  });

  const eventsWriter = requireWriter(ctx, 'events');
  const roomApiDeps: RoomApiDeps = {
    sql,
    serverName,
    log,
    notify,
    rooms,
    eventsPosition: () => eventsWriter.position,
    getIgnoredUsers: async (userId) => new Set(await getIgnoredUsers(sql, userId)),
  };
  const indexer = createRoomApiIndexer(roomApiDeps);
  onEvents = () => indexer.schedule();
  indexer.schedule();

  const typing = new TypingState({ notify, log });
  const presence = await PresenceHandler.start({
    sql,
    stream: requireWriter(ctx, 'presence'),
    notify,
    serverName,
    enabled: config.presence.enabled,
    log,
  });
  const ephemeral = createEphemeralHandlers({
    sql,
    serverName,
    log,
    notify,
    receiptsStream: requireWriter(ctx, 'receipts'),
    typing,
    presence,
    presenceEnabled: config.presence.enabled,
    ...lookups.bound(),
    getRoomAccountData: (u, r, t) => getRoomAccountData(sql, u, r, t),
    setRoomAccountData: (u, r, t, c) => accountDataWriter.setRoom(u, r, t, c),
  });

  // Every stream's position as this process has it; taken before /sync reads, so nothing is skipped.
  const position = (stream: string) => positionOf(ctx.writers.get(stream)?.position ?? 0);
  const currentToken = (): SyncToken => ({
    ...emptySyncToken(),
    events: position('events'),
    presence: position('presence'),
    typing: positionOf(typing.position),
    receipts: position('receipts'),
    account_data: position('account_data'),
    push_rules: position('push_rules'),
    to_device: position('to_device'),
    device_lists: position('device_lists'),
  });

  const handlers = new Map<string, Handler>([
    ...accounts,
    ...createSyncHandlers({
      sql,
      log,
      notifier,
      currentToken,
      store: rooms.store,
      typing,
      presence,
      getUnreadCounts: async (userId, roomIds, { threads }) => {
        const counts = await getUnreadCounts(sql, userId, roomIds);
        return new Map(
          [...counts].map(([roomId, c]) => [
            roomId,
            threads ? { room: c.main, threads: c.unread_thread_notifications } : { room: { notification_count: c.notification_count, highlight_count: c.highlight_count } },
          ]),
        );
      },
    }),
    ...createPushNotificationHandlers({ sql, log, notify, serverName, pushersWriter: requireWriter(ctx, 'pushers'), eventStore: rooms.store }),
    ...createRoomsHandlers(roomsDeps, rooms),
    ...createRoomApiHandlers({ ...roomApiDeps, indexer }),
    ...createMediaHandlers({ sql, serverName, log, mediaStorePath: config.mediaStorePath, maxUploadSize: config.maxUploadSize }),
    ...createPushHandlers({ sql, log, notify, pushRulesWriter: requireWriter(ctx, 'push_rules') }),
    ...e2ee.handlers,
    ...accountData,
    ...ephemeral,
  ]);

  return {
    handlers,
    authenticate,
    notifier,
    rooms,
    async close() {
      await indexer.close();
      typing.close();
      await presence.close();
      await authenticate.close();
    },
  };
}
