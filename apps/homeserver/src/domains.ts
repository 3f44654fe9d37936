/**
 * The Client-Server domains of one process, wired to each other through the narrow functions their
 * deps ask for. Everything here is composition: no domain logic lives in this file.
 */
import { emptySyncToken, maxPosition, positionOf, type JsonObject, type Logger, type NotifyFn, type SyncToken } from '@hs/core';
import type { ChangeFeed } from './change-feed.ts';
import type { Config, SigningKey } from '@hs/config';
import type { Authenticator, Handler } from '@hs/http';
import { createAccountDataHandlers, getIgnoredUsers, getIgnoredUsersOf, getRoomAccountData } from '@hs/account-data';
import { createRoomApiHandlers, createRoomApiIndexer, type RoomApiDeps } from '@hs/room-api';
import { createAccountsHandlers, createAuthenticator, getProfile, tokenCacheFor, UserInteractiveAuth } from '@hs/accounts';
import { createE2ee, keyCountsCacheFor } from '@hs/e2ee';
import { createEphemeralHandlers } from '@hs/ephemeral';
import { createMediaHandlers } from '@hs/media';
import {
  computePushActions,
  planPushActions,
  createPushHandlers,
  createPushNotificationHandlers,
  getPushRulesAccountData,
  PushRulesCache,
  serverDefaultPushRules,
  type PushActionsDeps,
} from '@hs/push';
import type { ReplicationBus, ReplicationCaller, ReplicationEndpointRegistry } from '@hs/replication';
import {
  createRoomsHandlers,
  createRoomsService,
  registerEventPersisterEndpoints,
  RoomLookups,
  RoutedEventPersister,
  type RoomsDeps,
  type RoomsService,
} from '@hs/rooms';
import type { Sql, StreamWriter } from '@hs/storage';
import { createSyncHandlers, Notifier, presenceAwareNotify, SyncChangeCaches, ValidatedUserCache } from '@hs/sync';
import { createStreamWrites } from './stream-writes.ts';

export interface DomainContext {
  readonly config: Config;
  readonly sql: Sql;
  readonly log: Logger;
  readonly signingKey: SigningKey;
  /** Stream writers this process owns, by stream name. */
  readonly writers: ReadonlyMap<string, StreamWriter>;
  /** Where writers announce changes and from where every applied change comes back. */
  readonly feed: ChangeFeed;
  readonly instanceName: string;
  /** stream → writer instances (`stream_writers`; main by default). */
  readonly streamWriters: Readonly<Record<string, readonly string[]>>;
  /** Writes to streams other processes write go through here; ours are served on `server`. */
  readonly replication: { readonly client: ReplicationCaller; readonly server: ReplicationEndpointRegistry; readonly bus: ReplicationBus };
  /** Whether this process runs the background duties (run_background_tasks_on). */
  readonly backgroundTasks: boolean;
}

export interface Domains {
  readonly handlers: Map<string, Handler>;
  readonly authenticate: Authenticator;
  readonly notifier: Notifier;
  readonly rooms: RoomsService;
  close(): Promise<void>;
}

/** The `caches` stream's name for the access-token cache. */
const ACCESS_TOKENS_CACHE = 'access_tokens';
/** Devices' one-time key counts, by `user\0device`. */
const KEY_COUNTS_CACHE = 'device_key_counts';

export async function createDomains(ctx: DomainContext): Promise<Domains> {
  const { config, sql, log } = ctx;
  const serverName = config.serverName;
  const notifier = new Notifier();
  // Set once the room-api indexer exists: new events also schedule search/thread/directory indexing.
  let onEvents: (() => void) | undefined;
  // Presence and device-list changes name only the user; this also wakes the rooms they are in.
  const wake = presenceAwareNotify(notifier, sql, log);
  const stopListening = ctx.feed.onChange((change) => {
    wake(change);
    if (change.stream === 'events') onEvents?.();
  });
  // What /sync may answer from memory: fed before each position advance, from wherever the change came.
  // Their floor is the highest position any writer reached: whatever came before is not recorded.
  const syncChanges = new SyncChangeCaches({
    events: maxPosition(ctx.feed.token('events')),
    accountData: maxPosition(ctx.feed.token('account_data')),
    receipts: maxPosition(ctx.feed.token('receipts')),
  });
  const stopCaching = ctx.feed.onApplied((change) => syncChanges.apply(change));
  // Writers announce through the feed: listeners hear of a change once the stream position includes it.
  const notify: NotifyFn = ctx.feed.announce;
  // The spec's current server-default push rules, without the legacy body-mention rules (not configurable yet).
  const legacyMentionRules = false;
  const writes = await createStreamWrites({
    sql,
    log,
    serverName,
    instanceName: ctx.instanceName,
    streamWriters: ctx.streamWriters,
    writers: ctx.writers,
    notify,
    client: ctx.replication.client,
    server: ctx.replication.server,
    bus: ctx.replication.bus,
    follower: ctx.feed.follower,
    publisher: ctx.feed.publisher,
    presenceEnabled: config.presence.enabled,
    legacyMentionRules,
  });
  const eventsWriters = ctx.streamWriters.events ?? ['main'];

  // Ignore lists for push actions, read again only for users whose account data changed since.
  const NOBODY: ReadonlySet<string> = new Set();
  const ignoreLists = new ValidatedUserCache<ReadonlySet<string>>({
    changes: syncChanges.accountData,
    position: () => ctx.feed.token('account_data').min,
    load: async (userId) => (await getIgnoredUsersOf(sql, [userId])).get(userId) ?? NOBODY,
  });
  // Push rules for push actions, dropped as the push_rules stream reports changes (no per-batch probe).
  const rulesCache = new PushRulesCache({ defaults: serverDefaultPushRules({ legacyMentions: legacyMentionRules }) });
  rulesCache.followStream();
  const stopRulesFeed = ctx.feed.onApplied((change) => {
    if (change.stream === 'push_rules' && change.users) rulesCache.forget(change.users);
  });
  const pushActionsDeps: PushActionsDeps = {
    sql,
    serverName,
    log,
    rulesCache,
    getIgnoredUsers: (userIds) =>
      ignoreLists.getMany(userIds, async (stale) => {
        const found = await getIgnoredUsersOf(sql, stale);
        return new Map(stale.map((u) => [u, found.get(u) ?? NOBODY]));
      }),
  };
  const roomsDeps: RoomsDeps = {
    sql,
    serverName,
    log,
    notify,
    serverKey: { keyId: ctx.signingKey.keyId, secretKey: ctx.signingKey.secretKey },
    ...(ctx.writers.get('events') ? { eventsWriter: ctx.writers.get('events') as StreamWriter } : {}),
    // Rooms another events writer owns go to it; with one local writer everything stays here.
    routePersist: (local) =>
      local && eventsWriters.length === 1 && eventsWriters[0] === ctx.instanceName
        ? local
        : new RoutedEventPersister({
            writers: eventsWriters,
            ...(local ? { local: { instance: ctx.instanceName, persister: local } } : {}),
            client: ctx.replication.client,
            waitFor: writes.waitFor,
          }),
    defaultRoomVersion: config.defaultRoomVersion,
    getProfile: async (userId) => (await getProfile(sql, userId)) ?? {},
    // Push actions are computed right after each commit, before /sync is woken, so counts are ready.
    onPersisted: async (events) => {
      await computePushActions(pushActionsDeps, events);
    },
    // Message-only batches: decided while they are written, committed with them.
    deriveWithCommit: async (events) => {
      const plan = await planPushActions(pushActionsDeps, events);
      return (tx, streamOrderings) => plan.write(tx, streamOrderings).statements;
    },
  };
  const rooms = createRoomsService(roomsDeps);
  if (rooms.localPersister) registerEventPersisterEndpoints(ctx.replication.server, rooms.localPersister);
  const lookups = new RoomLookups(sql, rooms.store);

  const uia = new UserInteractiveAuth({ sql, serverName, log });
  const userExists = async (userId: string) => (await sql`SELECT 1 FROM users WHERE name = ${userId}`).length > 0;

  const e2ee = createE2ee({
    sql,
    serverName,
    log,
    notify,
    toDeviceSender: writes.toDevice,
    deviceListUpdater: writes.deviceLists,
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

  const accountDataWriter = writes.accountData;
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

  const authenticate = createAuthenticator({ sql, log });
  // Revoked tokens stop working on every process at once, not only when their cache entries expire.
  const tokens = tokenCacheFor(sql);
  const stopRevoking = tokens.onInvalidateUser((userId) => ctx.feed.invalidate(ACCESS_TOKENS_CACHE, [userId]));
  const keyCounts = keyCountsCacheFor(sql);
  const stopKeyCounts = keyCounts.onChanged((keys) => ctx.feed.invalidate(KEY_COUNTS_CACHE, keys));
  const stopHearing = ctx.feed.onInvalidation((cache, keys) => {
    if (cache === ACCESS_TOKENS_CACHE) for (const userId of keys) tokens.forgetUser(userId);
    if (cache === KEY_COUNTS_CACHE) keyCounts.forget(keys);
  });
  const roomApiDeps: RoomApiDeps = {
    authenticate,
    sql,
    serverName,
    log,
    notify,
    rooms,
    eventsPosition: () => ctx.feed.position('events'),
    getIgnoredUsers: async (userId) => new Set(await getIgnoredUsers(sql, userId)),
  };
  const indexer = createRoomApiIndexer(roomApiDeps);
  // Readers catch the indexes up on demand anywhere; new events schedule it where background work runs.
  if (ctx.backgroundTasks) {
    onEvents = () => indexer.schedule();
    indexer.schedule();
  }

  const typing = writes.typingReader;
  const presence = writes.presence;
  const ephemeral = createEphemeralHandlers({
    sql,
    serverName,
    log,
    notify,
    receiptsWriter: writes.receipts,
    typing: writes.typing,
    presence,
    presenceEnabled: config.presence.enabled,
    ...lookups.bound(),
    getRoomAccountData: (u, r, t) => getRoomAccountData(sql, u, r, t),
    setRoomAccountData: (u, r, t, c) => accountDataWriter.setRoom(u, r, t, c),
  });

  // Every stream's position as this process has applied it; taken before /sync reads, so nothing is skipped.
  const position = (stream: string) => ctx.feed.token(stream);
  // Built once per change of any position (every /sync asks several times; most see no change between).
  let latest: { version: string; typing: number; token: SyncToken } | undefined;
  const currentToken = (): SyncToken => {
    const version = ctx.feed.tokenVersion;
    if (latest && latest.version === version && latest.typing === typing.position) return latest.token;
    const token: SyncToken = {
      ...emptySyncToken(),
      events: position('events'),
      presence: position('presence'),
      typing: positionOf(typing.position),
      receipts: position('receipts'),
      account_data: position('account_data'),
      push_rules: position('push_rules'),
      to_device: position('to_device'),
      device_lists: position('device_lists'),
    };
    latest = { version, typing: typing.position, token };
    return token;
  };

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
      changes: syncChanges,
      unreadCounts: true,
    }),
    ...createPushNotificationHandlers({ sql, log, notify, serverName, pushers: writes.pushers, eventStore: rooms.store }),
    ...createRoomsHandlers(roomsDeps, rooms),
    ...createRoomApiHandlers({ ...roomApiDeps, indexer }),
    ...createMediaHandlers({ sql, serverName, log, mediaStorePath: config.mediaStorePath, maxUploadSize: config.maxUploadSize }),
    ...createPushHandlers({ sql, log, notify, updater: writes.pushRules, legacyMentionRules }),
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
      stopListening();
      stopCaching();
      stopRevoking();
      stopRulesFeed();
      stopKeyCounts();
      stopHearing();
      await indexer.close();
      await writes.close();
      await authenticate.close();
    },
  };
}
