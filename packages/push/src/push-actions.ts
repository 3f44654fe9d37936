/**
 * Push actions at persist time: for each newly persisted event, every local member of its room other
 * than the sender has their push rules evaluated, and the recipients the rules tell to notify or
 * highlight are stored in `event_push_actions` — what notification counts, /notifications and the
 * pusher read. Meant to run right after the events commit (the rooms persister's `onPersisted`).
 *
 * Storage is per event, not per recipient: one row per distinct outcome (usually one: everyone gets
 * `notify`), with its recipients as a bitmap over the room's member numbering (`PushMemberIndex`).
 * Per-recipient rows cost a 200-member room 199 index insertions per message, several times what
 * persisting the event itself costs; this costs one.
 *
 * The cost per batch is fixed, not per event or member: one round trip of small queries (room state
 * versions — states are cached until they change —, the push rules stream's head — rules are cached
 * until a user changes them —, and what the batch's member events and relations need), one INSERT
 * of all rows as arrays. Each event is evaluated against the membership before it: the batch's own
 * member events are rewound from current state (a user joining in the batch is not notified of the
 * messages before their join), and the invitee of an invite is a recipient too (`.m.rule.invite_for_me`).
 * Power levels are the room's current ones.
 */
import type { Logger } from '@hs/core';
import { isJsonObject } from '@hs/core';
import type { PDU } from '@hs/events';
import { serverOf } from '@hs/rooms';
import type { Sql, Statement } from '@hs/storage';
import { serverDefaultPushRules } from './default-push-rules.ts';
import { evaluatePushRules, type PushEvaluation, type PushEvent } from './evaluate-push-rules.ts';
import { MAIN_THREAD_ID, relationForThread, threadRootsOf } from './event-threads.ts';
import type { PushRule } from './push-rule-types.ts';
import { PushMemberIndex, setRecipientBit } from './push-member-index.ts';
import { PushRulesCache } from './push-rules-cache.ts';
import { loadMemberSnapshots, PushRoomStateCache, type MemberSnapshot, type PushRoomState } from './push-room-state.ts';

/** A newly persisted event (the rooms persister's `NewlyPersistedEvent` fits). */
export interface PushableEvent {
  readonly eventId: string;
  readonly roomId: string;
  readonly pdu: PDU;
  readonly streamOrdering: number;
  readonly outlier?: boolean;
  readonly rejected?: boolean;
  /** For a state event: the event it replaced (for a member event, the membership before it). */
  readonly replacesState?: string | undefined;
}

export interface PushActionsDeps {
  readonly sql: Sql;
  readonly serverName: string;
  readonly log: Logger;
  /** The per-process push rules cache; by default one per `sql` (and legacy-rules setting). */
  readonly rulesCache?: PushRulesCache;
  /** The per-process cache of rooms' state (members, power levels); by default one per `sql`. */
  readonly roomStates?: PushRoomStateCache;
  /** The per-process cache of rooms' recipient numbering; by default one per `sql`. */
  readonly memberIndex?: PushMemberIndex;
  /** Evaluate with the legacy body-mention default rules too (see PushDeps); ignored with `rulesCache`. */
  readonly legacyMentionRules?: boolean;
  /**
   * Whom each of `userIds` ignores (`m.ignored_user_list`, account data domain): events from those
   * senders never notify them. Without it nobody is treated as ignored.
   */
  readonly getIgnoredUsers?: (userIds: readonly string[]) => Promise<ReadonlyMap<string, ReadonlySet<string>>>;
}

const defaultCaches = [new WeakMap<Sql, PushRulesCache>(), new WeakMap<Sql, PushRulesCache>()] as const;

function cacheFor(deps: PushActionsDeps): PushRulesCache {
  if (deps.rulesCache) return deps.rulesCache;
  const legacy = deps.legacyMentionRules === true;
  const map = defaultCaches[legacy ? 1 : 0];
  let cache = map.get(deps.sql);
  if (!cache) map.set(deps.sql, (cache = new PushRulesCache({ defaults: serverDefaultPushRules({ legacyMentions: legacy }) })));
  return cache;
}

const defaultRoomStates = new WeakMap<Sql, PushRoomStateCache>();

function roomStatesFor(deps: PushActionsDeps): PushRoomStateCache {
  if (deps.roomStates) return deps.roomStates;
  let cache = defaultRoomStates.get(deps.sql);
  if (!cache) defaultRoomStates.set(deps.sql, (cache = new PushRoomStateCache()));
  return cache;
}

const defaultIndexes = new WeakMap<Sql, PushMemberIndex>();

function memberIndexFor(deps: PushActionsDeps): PushMemberIndex {
  if (deps.memberIndex) return deps.memberIndex;
  let index = defaultIndexes.get(deps.sql);
  if (!index) defaultIndexes.set(deps.sql, (index = new PushMemberIndex()));
  return index;
}

/** Rule results are shared frozen objects, so their JSON is computed once each. */
const actionsJson = new WeakMap<PushEvaluation, string>();
function jsonOf(result: PushEvaluation): string {
  let s = actionsJson.get(result);
  if (s === undefined) actionsJson.set(result, (s = JSON.stringify(result.actions)));
  return s;
}

function membershipOf(pdu: PDU): string | undefined {
  const m = isJsonObject(pdu.content) ? pdu.content.membership : undefined;
  return typeof m === 'string' ? m : undefined;
}

function displaynameOf(pdu: PDU): string | null {
  const d = isJsonObject(pdu.content) ? pdu.content.displayname : undefined;
  return typeof d === 'string' ? d : null;
}

const NO_RULES: readonly PushRule[] = Object.freeze([]);

const isMemberEvent = (e: PushableEvent): boolean => e.pdu.type === 'm.room.member' && typeof e.pdu.state_key === 'string';

/** One recipient's outcome for one event (before recipients are grouped into bitmaps). */
interface Outcome {
  readonly event: PushableEvent;
  readonly thread: string;
  readonly userId: string;
  readonly result: PushEvaluation;
}

/** Rows to insert, column by column (one INSERT … SELECT FROM unnest). */
class Rows {
  readonly room: string[] = [];
  readonly stream: number[] = [];
  readonly outcome: number[] = [];
  readonly topo: number[] = [];
  readonly event: string[] = [];
  readonly thread: string[] = [];
  /** `t` / `f` and `\x…` hex: postgres.js sends text arrays, and Postgres casts them. */
  readonly notif: string[] = [];
  readonly highlight: string[] = [];
  readonly actions: string[] = [];
  readonly recipients: string[] = [];
  get length(): number {
    return this.room.length;
  }
}

/**
 * Group each event's outcomes by their actions: one row per distinct outcome, recipients as a bitmap.
 * With `streamOrderings`, events get their position from it, and those it lacks are left out.
 */
function toRows(outcomes: readonly Outcome[], numbers: ReadonlyMap<string, ReadonlyMap<string, number>>, streamOrderings?: ReadonlyMap<string, number>): Rows {
  const rows = new Rows();
  let i = 0;
  while (i < outcomes.length) {
    const first = outcomes[i] as Outcome;
    const e = first.event;
    const stream = streamOrderings ? streamOrderings.get(e.eventId) : e.streamOrdering;
    if (stream === undefined) {
      while (i < outcomes.length && (outcomes[i] as Outcome).event === e) i++;
      continue;
    }
    const groups = new Map<PushEvaluation, number[]>();
    let maxBit = 0;
    for (; i < outcomes.length && (outcomes[i] as Outcome).event === e; i++) {
      const o = outcomes[i] as Outcome;
      const n = numbers.get(e.roomId)?.get(o.userId);
      if (n === undefined) continue;
      let list = groups.get(o.result);
      if (!list) groups.set(o.result, (list = []));
      list.push(n);
      if (n > maxBit) maxBit = n;
    }
    // Results are shared per rule, but two rules may give the same actions: merge by JSON.
    const byJson = new Map<string, { result: PushEvaluation; bits: Uint8Array }>();
    for (const [result, list] of groups) {
      const json = jsonOf(result);
      let g = byJson.get(json);
      if (!g) byJson.set(json, (g = { result, bits: new Uint8Array((maxBit >> 3) + 1) }));
      for (const n of list) setRecipientBit(g.bits, n);
    }
    let outcome = 0;
    for (const [json, g] of byJson) {
      rows.room.push(e.roomId);
      rows.stream.push(stream);
      rows.outcome.push(outcome++);
      rows.topo.push(e.pdu.depth);
      rows.event.push(e.eventId);
      rows.thread.push(first.thread);
      rows.notif.push(g.result.notify ? 't' : 'f');
      rows.highlight.push(g.result.highlight ? 't' : 'f');
      rows.actions.push(json);
      rows.recipients.push(`\\x${Buffer.from(g.bits.buffer, g.bits.byteOffset, lastNonZero(g.bits)).toString('hex')}`);
    }
  }
  return rows;
}

/** Bitmaps are stored without trailing zero bytes (readers treat missing bytes as unset bits). */
function lastNonZero(bits: Uint8Array): number {
  let n = bits.length;
  while (n > 1 && bits[n - 1] === 0) n--;
  return n;
}

export interface PushActionsResult {
  /** Rows written: one per event and distinct outcome. */
  readonly rows: number;
  /** (recipient, event) pairs that notify or highlight. */
  readonly notified: number;
}

/** The push actions of some events, decided; `statements` writes them. */
export interface PushActionsPlan {
  readonly notified: number;
  /**
   * The statements storing the plan (not sent yet), on `sql` — a transaction's, to commit them with
   * the events —, and how many rows they insert. `streamOrderings`: the events' final positions when
   * the plan was made before they were known; events missing from it are left out.
   */
  write(sql: Sql, streamOrderings?: ReadonlyMap<string, number>): { readonly statements: Statement[]; readonly rows: number };
}

const NOTHING: PushActionsPlan = { notified: 0, write: () => ({ statements: [], rows: 0 }) };

/**
 * Compute and store the push actions of `events` (any rooms, any order; outliers and rejected events
 * are skipped). Idempotent: rows already stored are left alone.
 */
export async function computePushActions(deps: PushActionsDeps, events: readonly PushableEvent[]): Promise<PushActionsResult> {
  const plan = await planPushActions(deps, events);
  const { statements, rows } = plan.write(deps.sql);
  await Promise.all(statements);
  return { rows, notified: plan.notified };
}

/**
 * Decide the push actions of `events` against the rooms' current state, without writing them. Events
 * may carry provisional stream orderings (in their final order) when the plan is made before the
 * events are committed, for events that change no room state.
 */
export async function planPushActions(deps: PushActionsDeps, events: readonly PushableEvent[]): Promise<PushActionsPlan> {
  const { sql, serverName } = deps;
  const live = events.filter((e) => e.outlier !== true && e.rejected !== true);
  if (live.length === 0) return NOTHING;

  // Round trip 1: room states (re-read only where they changed), memberships the batch's member
  // events replaced, threads of related events, and which users changed their push rules.
  const roomIds = [...new Set(live.map((e) => e.roomId))];
  const replaced = live.filter(isMemberEvent).flatMap((e) => (e.replacesState === undefined ? [] : [e.replacesState]));
  const parents = new Set<string>();
  for (const e of live) {
    const rel = relationForThread(e.pdu.content);
    if (rel && 'parent' in rel) parents.add(rel.parent);
  }
  const rulesCache = cacheFor(deps);
  const [rooms, snapshots, threadRoots] = await Promise.all([
    roomStatesFor(deps).load(sql, roomIds),
    loadMemberSnapshots(sql, replaced),
    threadRootsOf(sql, [...parents]),
    rulesCache.refresh(sql),
  ]);

  // Possible recipients: members now, and local users whose membership the batch changed (they
  // may have been joined before it, or be invited by it).
  const users = new Set<string>();
  for (const room of rooms.values()) for (const u of room.joined.keys()) users.add(u);
  for (const e of live) {
    if (isMemberEvent(e) && serverOf(e.pdu.state_key as string) === serverName) users.add(e.pdu.state_key as string);
  }
  if (users.size === 0) return NOTHING;
  const userList = [...users];

  // Usually no round trip: rules of users not checked lately; ignore lists.
  const [rules, ignored] = await Promise.all([
    rulesCache.rulesAfterRefresh(sql, userList),
    deps.getIgnoredUsers ? deps.getIgnoredUsers(userList) : Promise.resolve(new Map<string, ReadonlySet<string>>()),
  ]);

  const outcomes: Outcome[] = [];
  const byRoom = new Map<string, PushableEvent[]>();
  for (const e of live) {
    let list = byRoom.get(e.roomId);
    if (!list) byRoom.set(e.roomId, (list = []));
    list.push(e);
  }
  for (const [roomId, list] of byRoom) {
    const room = rooms.get(roomId);
    if (room) evaluateRoom(room, list, snapshots, threadRoots, rules, ignored, serverName, outcomes);
  }

  // Round trip 3 (only when someone is new to a room's numbering): recipients' bit numbers.
  const wanted = new Map<string, Set<string>>();
  for (const o of outcomes) {
    let set = wanted.get(o.event.roomId);
    if (!set) wanted.set(o.event.roomId, (set = new Set()));
    set.add(o.userId);
  }
  const numbers = outcomes.length > 0 ? await memberIndexFor(deps).numbersFor(sql, wanted) : new Map<string, ReadonlyMap<string, number>>();
  const redactions = live.filter((e) => e.pdu.type === 'm.room.redaction').map((e) => e.eventId);
  return {
    notified: outcomes.length,
    write(db, streamOrderings) {
      const rows = toRows(outcomes, numbers, streamOrderings);
      const writes: Statement[] = [];
      if (rows.length > 0) {
        writes.push(db`
          INSERT INTO event_push_actions
            (room_id, stream_ordering, outcome, topological_ordering, event_id, thread_id, notif, highlight, actions, recipients)
          SELECT * FROM unnest(${rows.room}::text[], ${rows.stream}::bigint[], ${rows.outcome}::smallint[], ${rows.topo}::bigint[],
                               ${rows.event}::text[], ${rows.thread}::text[], ${rows.notif}::text[]::boolean[],
                               ${rows.highlight}::text[]::boolean[], ${rows.actions}::text[], ${rows.recipients}::text[]::bytea[])
          ON CONFLICT DO NOTHING`);
      }
      if (redactions.length > 0) {
        // A redaction that applies (the persister recorded it) takes its target's notifications away.
        writes.push(db`
          DELETE FROM event_push_actions a USING redactions r, events e
           WHERE r.event_id = ANY(${redactions}) AND e.event_id = r.redacts
             AND a.room_id = e.room_id AND a.stream_ordering = e.stream_ordering`);
      }
      return { statements: writes, rows: rows.length };
    },
  };
}

/**
 * One room's events, newest first, each against the membership before it: start from current state
 * and undo each member event as it is passed.
 */
function evaluateRoom(
  room: PushRoomState,
  events: PushableEvent[],
  snapshots: ReadonlyMap<string, MemberSnapshot>,
  threadRoots: ReadonlyMap<string, string>,
  rules: ReadonlyMap<string, readonly PushRule[]>,
  ignored: ReadonlyMap<string, ReadonlySet<string>>,
  serverName: string,
  outcomes: Outcome[],
): void {
  events.sort((a, b) => a.streamOrdering - b.streamOrdering);
  // What each member event replaced: the previous member event of the batch, else the stored one.
  const before = new Map<string, MemberSnapshot | undefined>();
  const last = new Map<string, MemberSnapshot>();
  for (const e of events) {
    if (!isMemberEvent(e)) continue;
    const target = e.pdu.state_key as string;
    const prev = last.get(target) ?? (e.replacesState === undefined ? undefined : snapshots.get(e.replacesState));
    before.set(e.eventId, prev);
    last.set(target, { membership: membershipOf(e.pdu) ?? '', displayname: displaynameOf(e.pdu) });
  }

  const joined = new Map(room.joined);
  let count = room.joinedCount;
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i] as PushableEvent;
    const pdu = e.pdu;
    let invitee: string | undefined;
    if (isMemberEvent(e)) {
      const target = pdu.state_key as string;
      const now = membershipOf(pdu);
      const prev = before.get(e.eventId);
      if (now === 'join') count--;
      if (prev?.membership === 'join') count++;
      if (serverOf(target) === serverName) {
        if (prev?.membership === 'join') joined.set(target, prev.displayname);
        else joined.delete(target);
        if (now === 'invite') invitee = target;
      }
    }
    const thread = threadOf(pdu, threadRoots);
    const event: PushEvent = pdu.room_id === e.roomId ? pdu : { ...pdu, room_id: e.roomId };
    const senderPowerLevel = room.powerOf(pdu.sender);
    const push = (userId: string, displayName: string | null): void => {
      if (userId === pdu.sender || ignored.get(userId)?.has(pdu.sender)) return;
      const result = evaluatePushRules(rules.get(userId) ?? NO_RULES, event, {
        userId,
        displayName,
        roomMemberCount: count,
        senderPowerLevel,
        notificationPowerLevels: room.powerLevels ?? null,
      });
      if (result.notify || result.highlight) outcomes.push({ event: e, thread, userId, result });
    };
    for (const [userId, displayName] of joined) push(userId, displayName);
    if (invitee !== undefined && !joined.has(invitee)) push(invitee, displaynameOf(pdu));
  }
}

function threadOf(pdu: PDU, threadRoots: ReadonlyMap<string, string>): string {
  const rel = relationForThread(pdu.content);
  if (!rel) return MAIN_THREAD_ID;
  return 'threadRoot' in rel ? rel.threadRoot : (threadRoots.get(rel.parent) ?? MAIN_THREAD_ID);
}
