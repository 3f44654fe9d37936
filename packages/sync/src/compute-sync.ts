/**
 * One /sync response computed between `since` (none for an initial sync) and a token taken before any
 * read. Every section is batched over all rooms; streams that did not move since `since` are not read
 * at all, so an incremental sync with nothing new costs a few indexed queries.
 */
import type { AccountDataEvent } from '@hs/account-data';
import { getAccountDataUpdates, getIgnoredUsers } from '@hs/account-data';
import type { JsonObject, MultiWriterPosition, SyncToken } from '@hs/core';
import { encodeRoomToken, encodeSyncToken, maxPosition } from '@hs/core';
import { createE2eeReaders, deviceListUpdatesBetween } from '@hs/e2ee';
import type { E2eeReaders } from '@hs/e2ee';
import type { Requester } from '@hs/http';
import { getPushActionsBetween, getPushRulesAccountData, getUnreadCounts, serverDefaultPushRules, usersWithPushRuleChanges } from '@hs/push';
import type { ClientEventSource, StoredEvent } from '@hs/rooms';
import { RoomLookups, loadEventsForClient, serializeEvent } from '@hs/rooms';
import type { SyncDeps } from './deps.ts';
import { ephemeralEvents } from './ephemeral.ts';
import type { SyncFilter } from './filter.ts';
import { allowsEvent, allowsRoom, applyEventFilter, contentHasUrl, projectFields } from './filter.ts';
import type { CachedTimelines } from './cached-timelines.ts';
import { timelinesFromCache } from './cached-timelines.ts';
import { LazyMembersCache } from './lazy-members.ts';
import { RoomTimelineCache } from './room-timeline-cache.ts';
import { UnreadCountsCache } from './unread-counts-cache.ts';
import { ValidatedUserCache } from './user-caches.ts';
import type { StreamChangeCache } from './stream-change-cache.ts';
import type { ResolvedPosition } from './positions.ts';
import { InstanceNames } from './positions.ts';
import { presenceSection } from './presence.ts';
import { getRoomAccountDataFor } from './room-account-data.ts';
import type { LeftRoom, MembershipAt, RoomLists } from './room-lists.ts';
import { incrementalRoomLists, initialRoomLists } from './room-lists.ts';
import type { StateRoomRequest } from './room-state.ts';
import { computeRoomStates } from './room-state.ts';
import { loadStrippedState } from './stripped-state.ts';
import type { RoomSummary } from './summary.ts';
import { computeSummaries, summaryJson } from './summary.ts';
import type { RoomTimeline, TimelineRequest } from './timeline.ts';
import { loadTimelines } from './timeline.ts';

export const DEFAULT_TO_DEVICE_LIMIT = 100;
/** Below this many new positions, "which rooms changed" is read off the stream; above, each room is probed. */
const STREAM_SCAN_WINDOW = 2000;

/** MSC4222's unstable response key, answered when the client asked under the unstable parameter name. */
export const UNSTABLE_STATE_AFTER = 'org.matrix.msc4222.state_after';
export type StateAfterKey = 'state_after' | typeof UNSTABLE_STATE_AFTER;

export interface SyncRequest {
  readonly requester: Requester;
  readonly since?: SyncToken;
  readonly filter: SyncFilter;
  readonly fullState: boolean;
  readonly useStateAfter: boolean;
  /** The room key `state_after` is sent under (default the stable `state_after`). */
  readonly stateAfterKey?: StateAfterKey;
  /**
   * An empty answer will not be sent (a long-poll goes on waiting): skip what only a sent response
   * needs (the device's key counts). The result is then incomplete when empty.
   */
  readonly discardIfEmpty?: boolean;
}

export interface SyncResult {
  readonly body: JsonObject;
  /** Nothing the client has to act on (a long-poll keeps waiting). */
  readonly empty: boolean;
  /** The response is being sent: remember what lazy-loading sent. */
  commit(): void;
}

interface RoomPart {
  timeline?: RoomTimeline;
  state?: string[];
  full: boolean;
  cap?: number;
}

const MEMBER = 'm.room.member';

function since(p: MultiWriterPosition | undefined): number {
  return p?.min ?? 0;
}

export class SyncComputer {
  private readonly deps: SyncDeps;
  private readonly names: InstanceNames;
  private readonly e2ee: E2eeReaders;
  private readonly lookups: RoomLookups;
  readonly lazyMembers = new LazyMembersCache();
  private readonly pushDefaults;
  /** With change caches: the user's joined rooms and ignore list, re-read only after they change. */
  readonly joinedRooms: (userId: string) => Promise<string[]>;
  private readonly ignoredUsers: (userId: string) => Promise<string[]>;
  /** Rooms' recent events and state changes, for incremental timelines (only with change caches). */
  readonly timelineCache: RoomTimelineCache | undefined;
  /** Notification counts moved forward in memory (with change caches and unread counts on). */
  readonly unreadCache: UnreadCountsCache | undefined;
  /** Per device: to-device messages already deleted up to here (the acknowledgement is idempotent). */
  private readonly toDeviceAcked = new Map<string, number>();

  constructor(deps: SyncDeps) {
    this.deps = deps;
    this.names = new InstanceNames(deps.sql);
    this.e2ee = createE2eeReaders(deps.sql);
    this.lookups = new RoomLookups(deps.sql, deps.store);
    this.pushDefaults = serverDefaultPushRules({ legacyMentions: deps.legacyMentionRules === true });
    const changes = deps.changes;
    if (changes) {
      const joined = new ValidatedUserCache({
        changes: changes.memberships,
        position: () => deps.currentToken().events.min,
        load: (u) => deps.store.getJoinedRooms(u),
      });
      const ignored = new ValidatedUserCache({
        changes: changes.accountData,
        position: () => deps.currentToken().account_data.min,
        load: (u) => getIgnoredUsers(deps.sql, u),
      });
      this.joinedRooms = (u) => joined.get(u);
      this.ignoredUsers = (u) => ignored.get(u);
      const timeline = new RoomTimelineCache(deps.store, deps.unreadCounts ? { pushActions: (from, to) => getPushActionsBetween(deps.sql, from, to) } : {});
      // Hold everything from the process's start on: tokens issued from now are answered from memory.
      void timeline.advanceTo(deps.currentToken().events.min);
      this.timelineCache = timeline;
      this.unreadCache = deps.unreadCounts ? new UnreadCountsCache({ sql: deps.sql, timeline, receipts: changes.receipts }) : undefined;
    } else {
      this.timelineCache = undefined;
      this.unreadCache = undefined;
      this.joinedRooms = (u) => deps.store.getJoinedRooms(u);
      this.ignoredUsers = (u) => getIgnoredUsers(deps.sql, u);
    }
  }

  /** The user's room lists when their memberships did not change since `since`: every joined room, as a delta. */
  private async unchangedRoomLists(userId: string, sinceP: ResolvedPosition): Promise<RoomLists | undefined> {
    if (this.deps.changes?.memberships.changedSince(userId, sinceP.min) !== false) return undefined;
    const joined = await this.joinedRooms(userId);
    return { joined: new Map(joined.map((id) => [id, false])), invited: [], knocked: [], left: [] };
  }

  /**
   * The incremental timelines the room timeline cache can answer: only for plain positions, and only
   * when the user's memberships did not change since `since` (joined throughout, so all is visible).
   */
  private async cachedTimelines(
    userId: string,
    requests: readonly TimelineRequest[],
    sinceP: ResolvedPosition | undefined,
    to: ResolvedPosition,
    f: SyncFilter,
    ignored: readonly string[],
  ): Promise<CachedTimelines | undefined> {
    const cache = this.timelineCache;
    if (!cache || !sinceP || requests.length === 0 || sinceP.ahead.size > 0 || to.ahead.size > 0) return undefined;
    if (this.deps.changes?.memberships.changedSince(userId, sinceP.min) !== false) return undefined;
    await cache.advanceTo(to.min);
    return timelinesFromCache(cache, requests, sinceP.min, to.min, f.room.timeline, f.timelineLimit, ignored);
  }

  /** Check a `since` token's writers are known (else 400) before anything is computed. */
  async validate(token: SyncToken): Promise<void> {
    await this.names.resolve(token.events);
  }

  async compute(req: SyncRequest, token: SyncToken): Promise<SyncResult> {
    const { sql, store } = this.deps;
    const now = (this.deps.clock ?? Date.now)();
    const r = req.requester;
    const userId = r.userId;
    const f = req.filter;
    const S = req.since;
    const initial = S === undefined;
    const T = token;
    const tEvents = await this.names.resolve(T.events);
    const sEvents = S ? await this.names.resolve(S.events) : undefined;
    const moved = (s: keyof SyncToken) => S === undefined || maxPosition(T[s]) > S[s].min;
    // Typing lives in memory on its writer: a restart starts it again from 0, making old tokens look ahead.
    const typingTo = maxPosition(T.typing);
    const typingFrom = S && maxPosition(S.typing) <= typingTo ? maxPosition(S.typing) : 0;
    const anyRoomWork = initial || req.fullState || moved('events') || typingFrom !== typingTo || moved('receipts') || moved('account_data') || moved('presence');

    const lazy = f.room.state.lazyLoadMembers;
    // A new sync sequence with lazy-loading: the client starts from nothing (as Synapse assumes).
    if (initial && lazy && !f.room.state.includeRedundantMembers) this.lazyMembers.reset(userId, r.deviceId);
    const sentMembers: Array<readonly [string, string, string]> = [];
    const body: JsonObject = {};
    const rooms: JsonObject = {};
    let empty = true;
    // Whether who shares a room with the user may have changed (device lists care).
    let membershipTouched = false;

    // ---- rooms ----
    if (anyRoomWork) {
      const [unfiltered, ignored] = await Promise.all([
        initial
          ? initialRoomLists(sql, userId, tEvents, f.room.includeLeave)
          : this.unchangedRoomLists(userId, sEvents as ResolvedPosition).then((l) => l ?? incrementalRoomLists(sql, userId, sEvents as ResolvedPosition, tEvents)),
        this.ignoredUsers(userId),
      ]);
      const lists = filterRoomLists(unfiltered, f);
      const joined = [...lists.joined.keys()];
      // Rooms sent in full: all of them initially, those joined in the window, or all with full_state.
      const fullJoined = joined.filter((id) => initial || req.fullState || lists.joined.get(id) === true);
      const newlyJoined = S ? joined.filter((id) => lists.joined.get(id) === true) : [];
      const fullSet = new Set(fullJoined);
      const deltaJoined = joined.filter((id) => !fullSet.has(id));
      const changed = S && moved('events') ? await this.roomsWithEvents(deltaJoined, sEvents as ResolvedPosition, tEvents) : new Set<string>();

      // Timelines.
      const parts = new Map<string, RoomPart>();
      const tlReqs: TimelineRequest[] = [];
      const timelineAllowed = (id: string) => allowsRoom(f.room.timeline, id);
      for (const id of joined) {
        const full = initial || lists.joined.get(id) === true;
        const part: RoomPart = { full: full || req.fullState };
        parts.set(id, part);
        if (!timelineAllowed(id)) continue;
        if (full) tlReqs.push({ roomId: id, ...(S ? { forceLimited: true } : {}) });
        else if (req.fullState || changed.has(id)) tlReqs.push({ roomId: id, since: sEvents as ResolvedPosition });
      }
      for (const l of lists.left) {
        parts.set(l.roomId, { full: l.full || initial, cap: l.stream });
        if (timelineAllowed(l.roomId)) tlReqs.push({ roomId: l.roomId, cap: l.stream, ...(l.full || initial ? {} : { since: sEvents as ResolvedPosition }) });
      }
      const cached = await this.cachedTimelines(userId, tlReqs, sEvents, tEvents, f, ignored);
      const [timelines, memberChanged] = await Promise.all([
        loadTimelines(sql, store, userId, cached?.rest ?? tlReqs, tEvents, f.room.timeline, f.timelineLimit, ignored),
        S && moved('events') ? this.roomsWithMemberChanges([...changed], sEvents as ResolvedPosition, tEvents) : Promise.resolve(new Set<string>()),
      ]);
      for (const [id, tl] of timelines) (parts.get(id) as RoomPart).timeline = tl;
      for (const [id, tl] of cached?.timelines ?? []) (parts.get(id) as RoomPart).timeline = tl;

      // Summaries: rooms sent in full, and rooms whose membership changed.
      membershipTouched = req.fullState || memberChanged.size > 0 || newlyJoined.length > 0 || lists.left.length > 0;
      const summaryRooms = joined.filter((id) => parts.get(id)?.full || memberChanged.has(id));
      const summaries = await computeSummaries(sql, userId, summaryRooms);

      // State.
      const stateReqs: StateRoomRequest[] = [];
      for (const [id, part] of parts) {
        const tl = part.timeline;
        if (!part.full && !(tl && tl.events.length > 0) && !memberChanged.has(id) && !changed.has(id)) continue;
        const events = tl?.events.map((v) => v.event) ?? [];
        let members: Set<string> | undefined;
        if (lazy) {
          members = new Set(events.map((e) => e.sender));
          if (part.full) members.add(userId);
          for (const h of summaries.get(id)?.heroes ?? []) members.add(h);
        }
        stateReqs.push({
          roomId: id,
          full: part.full,
          timeline: events,
          limited: tl?.limited ?? false,
          ...(part.cap !== undefined ? { cap: part.cap } : {}),
          ...(members ? { members } : {}),
        });
      }
      const alreadySent =
        lazy && !f.room.state.includeRedundantMembers
          ? (roomId: string, memberId: string, eventId: string) => this.lazyMembers.has(userId, r.deviceId, roomId, memberId, eventId)
          : undefined;
      const states = await computeRoomStates(
        {
          sql,
          since: sEvents,
          token: tEvents,
          useStateAfter: req.useStateAfter,
          filter: f.room.state,
          ...(alreadySent ? { alreadySent } : {}),
          ...(cached ? { knownDeltas: cached.deltas } : {}),
        },
        stateReqs,
      );
      for (const [id, ids] of states) (parts.get(id) as RoomPart).state = ids;

      // Load and serialise every event once.
      const timelineEvents: StoredEvent[] = [];
      const stateIds = new Set<string>();
      for (const part of parts.values()) {
        for (const v of part.timeline?.events ?? []) timelineEvents.push(v.event);
        for (const id of part.state ?? []) stateIds.add(id);
      }
      for (const ev of timelineEvents) stateIds.delete(ev.eventId);
      const sources = new Map<string, ClientEventSource>(cached?.sources ?? []);
      const toLoad = [...timelineEvents.filter((ev) => !sources.has(ev.eventId)), ...stateIds];
      if (toLoad.length > 0) for (const s of await loadEventsForClient(store, toLoad)) sources.set(s.event.eventId, s);
      const serialize = (src: ClientEventSource, membership?: string): JsonObject => {
        const ev = serializeEvent(src, 'sync', { requester: r, now, ...(membership !== undefined ? { membership } : {}) });
        const formatted = f.eventFormat === 'federation' ? { ...(src.pdu as unknown as JsonObject), event_id: src.event.eventId, unsigned: ev.unsigned ?? {} } : ev;
        return projectFields(formatted, f.eventFields);
      };
      const roomJson = (id: string, part: RoomPart, stateKeyName: 'state' | StateAfterKey): JsonObject => {
        const tl = part.timeline;
        const events = (tl?.events ?? []).flatMap((v) => {
          const src = sources.get(v.event.eventId);
          return src ? [serialize(src, v.membership)] : [];
        });
        const stateAllowed = allowsRoom(f.room.state, id);
        const stateEvents = (part.state ?? []).flatMap((sid) => {
          const src = sources.get(sid);
          if (!src || !stateAllowed) return [];
          const e = src.event;
          if (!allowsEvent(f.room.state, { type: e.type, sender: e.sender, containsUrl: contentHasUrl(src.pdu.content) })) return [];
          if (lazy && e.type === MEMBER && e.stateKey !== undefined) sentMembers.push([id, e.stateKey, e.eventId]);
          return [serialize(src)];
        });
        if (lazy) for (const v of tl?.events ?? []) if (v.event.type === MEMBER && v.event.stateKey !== undefined) sentMembers.push([id, v.event.stateKey, v.event.eventId]);
        const first = tl?.events[0]?.event;
        const prevBatch = first
          ? encodeRoomToken({ topological: first.topologicalOrdering, stream: { min: first.streamOrdering, ahead: new Map() } })
          : encodeRoomToken({ stream: part.cap !== undefined ? { min: part.cap, ahead: new Map() } : T.events });
        return {
          timeline: { events, limited: tl?.limited ?? false, prev_batch: prevBatch },
          [stateKeyName]: { events: stateEvents },
        };
      };
      const stateName = req.useStateAfter ? (req.stateAfterKey ?? 'state_after') : 'state';

      // Ephemeral and account data.
      const ephemeralRooms = joined.filter((id) => allowsRoom(f.room.ephemeral, id));
      const [ephemeral, accountData] = await Promise.all([
        ephemeralEvents(sql, this.deps.typing, userId, {
          fullRooms: ephemeralRooms.filter((id) => parts.get(id)?.full === true),
          deltaRooms: ephemeralRooms.filter((id) => !(parts.get(id)?.full === true)),
          typingFrom,
          typingTo,
          receiptsFrom: since(S?.receipts),
          receiptsTo: maxPosition(T.receipts),
        }),
        // Initially everything is read anyway; later, rooms sent in full get all of their account data.
        this.accountData(userId, S, T, initial ? [] : [...fullJoined, ...lists.left.filter((l) => l.full).map((l) => l.roomId)]),
      ]);

      // Joined rooms.
      const join: JsonObject = {};
      const included: string[] = [];
      for (const id of joined) {
        const part = parts.get(id) as RoomPart;
        const eph = applyEventFilter(f.room.ephemeral, ephemeral.get(id) ?? [], (e) => ({ type: String(e.type) }));
        const ad = allowsRoom(f.room.accountData, id) ? applyEventFilter(f.room.accountData, accountData.rooms.get(id) ?? [], (e) => ({ type: e.type })) : [];
        const hasTimeline = (part.timeline?.events.length ?? 0) > 0;
        const hasState = (part.state?.length ?? 0) > 0;
        if (!part.full && !hasTimeline && !hasState && eph.length === 0 && ad.length === 0) continue;
        const summary: RoomSummary | undefined = summaries.get(id);
        join[id] = {
          ...roomJson(id, part, stateName),
          ephemeral: { events: eph },
          account_data: { events: ad },
          summary: summary ? summaryJson(summary) : {},
        };
        included.push(id);
      }
      if (this.deps.unreadCounts && included.length > 0) {
        const threads = f.room.timeline.unreadThreadNotifications;
        const counts = this.unreadCache
          ? await this.unreadCache.get(userId, included, { events: tEvents.ahead.size === 0 ? tEvents.min : undefined, receipts: T.receipts.min })
          : await getUnreadCounts(sql, userId, included);
        for (const id of included) {
          const c = counts.get(id);
          if (!c) continue;
          const room = join[id] as JsonObject;
          room.unread_notifications = threads ? { ...c.main } : { notification_count: c.notification_count, highlight_count: c.highlight_count };
          if (threads && Object.keys(c.unread_thread_notifications).length > 0) {
            room.unread_thread_notifications = Object.fromEntries(Object.entries(c.unread_thread_notifications).map(([k, v]) => [k, { ...v }]));
          }
        }
      }
      if (included.length > 0) rooms.join = join;

      // Left rooms.
      const leave: JsonObject = {};
      for (const l of lists.left) {
        const part = parts.get(l.roomId) as RoomPart;
        const ad = allowsRoom(f.room.accountData, l.roomId) ? applyEventFilter(f.room.accountData, accountData.rooms.get(l.roomId) ?? [], (e) => ({ type: e.type })) : [];
        leave[l.roomId] = { ...roomJson(l.roomId, part, stateName), account_data: { events: ad } };
      }
      if (lists.left.length > 0) rooms.leave = leave;

      // Invites and knocks.
      const [invites, knocks] = await Promise.all([
        loadStrippedState(store, lists.invited.map((m) => m.eventId), 'invite_room_state'),
        loadStrippedState(store, lists.knocked.map((m) => m.eventId), 'knock_room_state'),
      ]);
      const strippedSection = async (refs: readonly MembershipAt[], loaded: typeof invites, field: 'invite_state' | 'knock_state', skipIgnored: boolean) => {
        const section: JsonObject = {};
        const own = await loadEventsForClient(store, [...loaded.values()].map((s) => s.event));
        const byId = new Map(own.map((s) => [s.event.eventId, s]));
        for (const ref of refs) {
          const s = loaded.get(ref.roomId);
          const src = byId.get(ref.eventId);
          if (!s || !src) continue;
          if (skipIgnored && ignored.includes(s.event.sender)) continue;
          section[ref.roomId] = { [field]: { events: [...s.stripped, serializeEvent(src, 'sync', { requester: r, now })] } };
        }
        return section;
      };
      const invite = await strippedSection(lists.invited, invites, 'invite_state', true);
      const knock = await strippedSection(lists.knocked, knocks, 'knock_state', false);
      if (Object.keys(invite).length > 0) rooms.invite = invite;
      if (Object.keys(knock).length > 0) rooms.knock = knock;
      if (Object.keys(rooms).length > 0) {
        body.rooms = rooms;
        empty = false;
      }

      // Global account data (m.push_rules when they changed, and always initially).
      const globalData = [...accountData.global];
      if (initial || (moved('push_rules') && (await usersWithPushRuleChanges(sql, [userId], since(S?.push_rules), maxPosition(T.push_rules))).has(userId))) {
        globalData.push({ type: 'm.push_rules', content: (await getPushRulesAccountData(sql, userId, this.pushDefaults)) as unknown as JsonObject });
      }
      const globalEvents = applyEventFilter(f.accountData, globalData, (e) => ({ type: e.type }));
      if (globalEvents.length > 0) {
        body.account_data = { events: globalEvents };
        empty = false;
      }

      // Presence.
      if (initial || moved('presence') || newlyJoined.length > 0) {
        const presence = await presenceSection(sql, userId, joined, newlyJoined, { from: S ? since(S.presence) : undefined, to: maxPosition(T.presence) }, now);
        const kept = applyEventFilter(f.presence, presence, (e) => ({ type: e.type, sender: e.sender }));
        if (kept.length > 0) {
          body.presence = { events: kept };
          empty = false;
        }
      }
    } else if (moved('push_rules') && (await usersWithPushRuleChanges(sql, [userId], since(S?.push_rules), maxPosition(T.push_rules))).has(userId)) {
      const events = applyEventFilter(f.accountData, [{ type: 'm.push_rules', content: (await getPushRulesAccountData(sql, userId, this.pushDefaults)) as unknown as JsonObject }], (e) => ({ type: e.type }));
      if (events.length > 0) {
        body.account_data = { events };
        empty = false;
      }
    }

    // ---- end-to-end encryption and to-device ----
    let next: SyncToken = T;
    if (r.deviceId !== undefined) {
      const deviceId = r.deviceId;
      if (S && S.to_device.min > (this.toDeviceAcked.get(`${userId}|${deviceId}`) ?? 0)) {
        await this.e2ee.deleteToDeviceMessagesUpTo(userId, deviceId, S.to_device.min);
        this.rememberAck(`${userId}|${deviceId}`, S.to_device.min);
      }
      const batch = await this.e2ee.getToDeviceMessages(userId, deviceId, since(S?.to_device), T.to_device.min, this.deps.toDeviceLimit ?? DEFAULT_TO_DEVICE_LIMIT);
      // Only what was read is covered; the rest of a long queue follows next time.
      next = { ...T, to_device: { min: Math.max(batch.nextStreamId, since(S?.to_device)), ahead: new Map() } };
      if (batch.events.length > 0) {
        body.to_device = { events: batch.events.map((e) => ({ type: e.type, sender: e.sender, content: e.content })) };
        empty = false;
      }
    }
    if (S && (moved('device_lists') || membershipTouched)) {
      const lists = await deviceListUpdatesBetween(
        {
          sql,
          getUsersSharingRoomWith: (u) => this.lookups.getUsersSharingRoomWith(u),
          getSharingChangesBetween: (u, from, to) => this.lookups.getSharingChangesBetween(u, from, to),
        },
        userId,
        S,
        T,
      );
      if (lists.changed.length > 0 || lists.left.length > 0) {
        body.device_lists = { ...(lists.changed.length > 0 ? { changed: lists.changed } : {}), ...(lists.left.length > 0 ? { left: lists.left } : {}) };
        empty = false;
      }
    }

    // Every response tells the device its key counts; an answer nobody will see does not need them.
    if (r.deviceId !== undefined && !(empty && req.discardIfEmpty)) {
      const keys = await this.e2ee.getDeviceKeyCounts(userId, r.deviceId);
      body.device_one_time_keys_count = keys.oneTimeKeys;
      body.device_unused_fallback_key_types = keys.unusedFallbackKeyTypes;
    }
    body.next_batch = encodeSyncToken(next);
    return {
      body,
      empty,
      commit: () => {
        if (lazy && !f.room.state.includeRedundantMembers) this.lazyMembers.record(userId, r.deviceId, sentMembers);
      },
    };
  }

  /** Which of `rooms` have timeline events in (since, to]: off the stream when the window is small. */
  private rememberAck(key: string, position: number): void {
    this.toDeviceAcked.delete(key);
    this.toDeviceAcked.set(key, position);
    if (this.toDeviceAcked.size > 100_000) this.toDeviceAcked.delete(this.toDeviceAcked.keys().next().value as string);
  }

  /**
   * Which of `rooms` changed in (since, to], from a change cache when it reaches back that far; a room
   * whose latest change is past the token may or may not have one inside it, so Postgres decides those.
   */
  private async roomsChanged(
    cache: StreamChangeCache | undefined,
    rooms: readonly string[],
    sinceP: ResolvedPosition,
    to: ResolvedPosition,
    fromDb: (rooms: readonly string[]) => Promise<Set<string>>,
  ): Promise<Set<string>> {
    if (!cache?.covers(sinceP.min)) return fromDb(rooms);
    const out = new Set<string>();
    const unsure: string[] = [];
    for (const id of rooms) {
      const last = cache.lastChange(id);
      if (last === undefined || last <= sinceP.min) continue;
      if (last <= to.max) out.add(id);
      else unsure.push(id);
    }
    if (unsure.length > 0) for (const id of await fromDb(unsure)) out.add(id);
    return out;
  }

  private async roomsWithEvents(rooms: readonly string[], sinceP: ResolvedPosition, to: ResolvedPosition): Promise<Set<string>> {
    if (rooms.length === 0 || to.max <= sinceP.min) return new Set();
    return this.roomsChanged(this.deps.changes?.roomEvents, rooms, sinceP, to, (r) => this.roomsWithEventsFromDb(r, sinceP, to));
  }

  private async roomsWithEventsFromDb(rooms: readonly string[], sinceP: ResolvedPosition, to: ResolvedPosition): Promise<Set<string>> {
    if (to.max - sinceP.min <= STREAM_SCAN_WINDOW) {
      const rows = await this.deps.sql<{ room_id: string }[]>`
        SELECT DISTINCT room_id FROM events WHERE stream_ordering > ${sinceP.min} AND stream_ordering <= ${to.max} AND NOT outlier`;
      const wanted = new Set(rooms);
      return new Set(rows.map((r) => r.room_id).filter((id) => wanted.has(id)));
    }
    const rows = await this.deps.sql<{ room_id: string }[]>`
      SELECT r.room_id FROM unnest(${rooms as string[]}::text[]) AS r(room_id)
      WHERE EXISTS (SELECT 1 FROM events e WHERE e.room_id = r.room_id AND e.stream_ordering > ${sinceP.min} AND e.stream_ordering <= ${to.max})`;
    return new Set(rows.map((r) => r.room_id));
  }

  /** Which of `rooms` had membership state changes in (since, to]. */
  private async roomsWithMemberChanges(rooms: readonly string[], sinceP: ResolvedPosition, to: ResolvedPosition): Promise<Set<string>> {
    if (rooms.length === 0) return new Set();
    return this.roomsChanged(this.deps.changes?.roomMembers, rooms, sinceP, to, (r) => this.roomsWithMemberChangesFromDb(r, sinceP, to));
  }

  private async roomsWithMemberChangesFromDb(rooms: readonly string[], sinceP: ResolvedPosition, to: ResolvedPosition): Promise<Set<string>> {
    const rows = await this.deps.sql<{ room_id: string }[]>`
      SELECT DISTINCT room_id FROM current_state_delta_stream
      WHERE room_id = ANY(${rooms as string[]}::text[]) AND type = ${MEMBER} AND stream_id > ${sinceP.min} AND stream_id <= ${to.max}`;
    return new Set(rows.map((r) => r.room_id));
  }

  /** Account data changed since `since` (everything initially), with full data for `fullRooms`. */
  private async accountData(userId: string, S: SyncToken | undefined, T: SyncToken, fullRooms: readonly string[]): Promise<{ global: AccountDataEvent[]; rooms: Map<string, AccountDataEvent[]> }> {
    const from = since(S?.account_data);
    const to = maxPosition(T.account_data);
    const [updates, full] = await Promise.all([
      S === undefined || to > from ? getAccountDataUpdates(this.deps.sql, userId, from, to) : Promise.resolve({ global: [], rooms: new Map<string, AccountDataEvent[]>() }),
      getRoomAccountDataFor(this.deps.sql, userId, fullRooms),
    ]);
    const rooms = new Map(updates.rooms);
    for (const [id, events] of full) rooms.set(id, events);
    return { global: updates.global, rooms };
  }
}

function filterRoomLists(lists: RoomLists, f: SyncFilter): RoomLists {
  const ok = (id: string) => allowsRoom(f.room, id);
  return {
    joined: new Map([...lists.joined].filter(([id]) => ok(id))),
    invited: lists.invited.filter((m) => ok(m.roomId)),
    knocked: lists.knocked.filter((m) => ok(m.roomId)),
    left: lists.left.filter((m: LeftRoom) => ok(m.roomId)),
  };
}
