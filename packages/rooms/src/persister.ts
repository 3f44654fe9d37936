/**
 * Persisting events (the events writer's job). `persist(batch)` takes stream orderings from the
 * `events` StreamWriter and, in ONE transaction, writes the events and everything derived from
 * them: DAG edges, forward extremities, state groups, current state and its delta stream,
 * memberships, relations, redactions and send transactions. After the commit it notifies.
 *
 * The input is plain JSON so a worker can forward it to the events writer over HTTP replication;
 * `EventPersister` is the seam, `LocalEventPersister` the implementation the writer runs.
 */
import type { JsonObject, Logger, NotifyFn } from '@hs/core';
import { canonicalJson, isJsonObject } from '@hs/core';
import type { PDU, StateKey, StateMap } from '@hs/events';
import { getRoomVersion, redactsOf, referenceEventId, stateKey } from '@hs/events';
import type { CommitWith, ReservedSql, Sql, Statement, StreamWriter } from '@hs/storage';
import { pipelinedTransaction } from '@hs/storage';
import type { StateStore } from './state-store.ts';
import { hasNul, serverOf } from './ids.ts';
import { relationOf } from './relations.ts';

export interface PersistItem {
  readonly pdu: PDU;
  readonly eventId: string;
  readonly roomId: string;
  readonly roomVersion: string;
  /** Held for auth or as a missing piece only: no state, not in the timeline. */
  readonly outlier?: boolean;
  readonly rejectedReason?: string;
  /** The client transaction that sent it (send idempotency, unsigned.transaction_id). */
  readonly txn?: { readonly userId: string; readonly scope: string; readonly txnId: string };
  /**
   * Set for events this server built: the room's forward extremities the builder saw. Persist only
   * if they are still exactly these, else throw StaleExtremitiesError (the creator rebuilds on
   * fresh state). This is what keeps two processes from forking a room they both write to.
   */
  readonly requireExtremities?: readonly string[];
  /**
   * The state group before the event, when it cannot be derived from a single prev event (several
   * prev events need state resolution, which the caller does). null: no state before (create).
   */
  readonly stateGroupBefore?: number | null;
  /** For an m.room.redaction: whether it applies to its target (default true; see docs/storage.md). */
  readonly applyRedaction?: boolean;
}

export interface PersistedEvent {
  readonly eventId: string;
  readonly streamOrdering: number;
  /** The state group after the event (undefined for outliers). */
  readonly stateGroup: number | undefined;
  /** True if the event was already stored (nothing written for it). */
  readonly duplicate: boolean;
}

export interface PersistResult {
  readonly events: readonly PersistedEvent[];
  /** The highest stream ordering written. */
  readonly position: number;
}

export interface PersistOptions {
  /**
   * Called once the events are committed, before what follows the commit (push actions, the
   * notification) is done: the room's next batch may be built and persisted from then on.
   * Persisters that cannot tell do not call it; the caller then waits for `persist` to resolve.
   */
  readonly onCommitted?: () => void;
}

export interface EventPersister {
  persist(items: readonly PersistItem[], opts?: PersistOptions): Promise<PersistResult>;
}

/**
 * The room moved on since the batch was built (or a just-built event already exists): rebuild it
 * against the new forward extremities.
 */
export class StaleExtremitiesError extends Error {
  readonly roomId: string;
  constructor(roomId: string) {
    super(`the forward extremities of ${roomId} changed while the events were being built`);
    this.name = 'StaleExtremitiesError';
    this.roomId = roomId;
  }
}

/** An event one `persist` call wrote (duplicates left out), as `onPersisted` hears of it. */
export interface NewlyPersistedEvent {
  readonly eventId: string;
  readonly roomId: string;
  readonly pdu: PDU;
  readonly streamOrdering: number;
  readonly outlier: boolean;
  readonly rejected: boolean;
  /** For a state event: the event it replaced in the state before it (what membership was before a member event). */
  readonly replacesState: string | undefined;
}

export interface LocalPersisterOptions {
  readonly sql: Sql;
  readonly writer: StreamWriter;
  readonly state: StateStore;
  readonly serverName: string;
  readonly notify: NotifyFn;
  readonly log: Logger;
  /** A delta chain longer than this gets a full snapshot instead. */
  readonly maxDeltaChain?: number;
  readonly clock?: () => number;
  /**
   * Called after each commit with the events written, in stream order, and BEFORE that commit's
   * `notify`: what it derives (push actions, notification counts) is in place when /sync wakes.
   * It runs while the batch's stream IDs are still held, so the events stream does not move past
   * them until it is done; batches of different rooms run it concurrently. A failure is logged,
   * never thrown, since the events are committed by then.
   */
  readonly onPersisted?: (events: readonly NewlyPersistedEvent[]) => Promise<void> | void;
  /**
   * For batches that change no room state (messages): what `onPersisted` would derive, decided just
   * before the batch's transaction — nothing in the batch can change the outcome — and committed with
   * it, so the stream IDs are released at the commit instead of after more round trips. Called with
   * the events in their final order but provisional stream orderings; the returned function gets the
   * real ones (duplicates left out) and the transaction. Those batches skip `onPersisted`.
   */
  readonly deriveWithCommit?: (events: readonly NewlyPersistedEvent[]) => Promise<DerivedWrites>;
}

/** Statements to commit with a batch, given its transaction and its events' stream orderings. */
export type DerivedWrites = (tx: Sql, streamOrderings: ReadonlyMap<string, number>) => Statement[];

/** Events that change their room's state or history: what is derived from later ones may depend on them. */
export function changesRoom(item: PersistItem): boolean {
  return typeof item.pdu.state_key === 'string' || item.pdu.type === 'm.room.redaction';
}

/** Namespace of the per-room advisory locks taken while persisting. */
const ROOM_LOCK_NAMESPACE = 730_411;
/** Postgres takes at most 65 535 parameters per statement. */
const MAX_PARAMS = 30_000;

/** A state group made during this batch, kept in memory until commit. */
interface NewGroup {
  readonly id: number;
  readonly prev: number | undefined;
  readonly depth: number;
  /** The rows written: the whole state for a snapshot, the changed entries for a delta. */
  readonly entries: ReadonlyMap<StateKey, string>;
  readonly roomId: string;
  readonly eventId: string;
}

/** A content string copied into a text column: left out (null) if absent or unstorable (NUL). */
function textColumn(v: unknown): string | null {
  return typeof v === 'string' && !hasNul(v) ? v : null;
}

function sameSet(a: readonly string[], b: ReadonlySet<string>): boolean {
  return a.length === b.size && a.every((x) => b.has(x));
}

function splitKey(k: StateKey): [string, string] {
  const i = k.indexOf('\u0000');
  return [k.slice(0, i), k.slice(i + 1)];
}

/** INSERT statements for `rows` (none when empty), in chunks within the protocol's parameter limit. */
function insertRows(tx: Sql, table: string, rows: readonly Record<string, unknown>[]): Statement[] {
  if (rows.length === 0) return [];
  const cols = Object.keys(rows[0] as object).length;
  const per = Math.max(1, Math.floor(MAX_PARAMS / cols));
  const queries: Statement[] = [];
  for (let i = 0; i < rows.length; i += per) {
    const chunk = rows.slice(i, i + per) as Record<string, unknown>[];
    queries.push(tx`INSERT INTO ${tx(table)} ${tx(chunk as never)}`);
  }
  return queries;
}

export class LocalEventPersister implements EventPersister {
  private readonly opts: LocalPersisterOptions;
  private readonly maxDelta: number;
  private readonly clock: () => number;

  constructor(opts: LocalPersisterOptions) {
    this.opts = opts;
    this.maxDelta = opts.maxDeltaChain ?? 50;
    this.clock = opts.clock ?? Date.now;
  }

  /** Per room, the post-commit work of its last batch: the next batch's waits for it, so rooms hear in order. */
  private readonly afterCommit = new Map<string, Promise<void>>();

  async persist(items: readonly PersistItem[], opts: PersistOptions = {}): Promise<PersistResult> {
    if (items.length === 0) return { events: [], position: this.opts.writer.position };
    const { writer, sql } = this.opts;
    // The stream IDs are asked for on the transaction's connection, with BEGIN and the first reads.
    let ids: number[] | undefined;
    try {
      // Planned before the transaction starts, never while it holds a connection: planning reads
      // through the pool, and once every connection held a transaction waiting for it, none would move.
      const derive = this.opts.deriveWithCommit && !items.some(changesRoom) ? await this.deriveEarly(items, this.opts.deriveWithCommit) : undefined;
      const out = await pipelinedTransaction(sql, (tx, commit) => {
        const allocated = writer.allocate(items.length, tx).then((a) => (ids = a));
        return this.write(tx, commit, items, allocated, derive);
      });
      this.rememberGroups(out.groups);
      for (const e of out.events) if (!e.duplicate && e.stateGroup !== undefined) this.opts.state.rememberEvent(e.eventId, e.stateGroup);
      // Committed, IDs still held: derive what /sync shows with the events, then announce them. The
      // notification goes out with the IDs, so nobody is woken before the stream includes them.
      if (out.events.some((e) => !e.duplicate)) {
        await this.afterCommitInOrder(items, opts, async () => {
          if (!derive) await this.runOnPersisted(items, out.events, out.replaced);
          this.announce(items, out.position);
        });
      } else opts.onCommitted?.();
      return { events: out.events, position: out.position };
    } catch (e) {
      if (ids) writer.failed(ids, e);
      throw e;
    } finally {
      if (ids) writer.finish(ids);
    }
  }

  /**
   * Run a batch's post-commit work after that of the previous batch of each of its rooms (the caller
   * may have started the next batch as soon as this one committed).
   */
  private async afterCommitInOrder(items: readonly PersistItem[], opts: PersistOptions, work: () => Promise<void>): Promise<void> {
    const rooms = [...new Set(items.map((i) => i.roomId))];
    const previous = rooms.flatMap((r) => this.afterCommit.get(r) ?? []);
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    for (const r of rooms) this.afterCommit.set(r, mine);
    opts.onCommitted?.();
    try {
      if (previous.length > 0) await Promise.all(previous);
      await work();
    } finally {
      release();
      for (const r of rooms) if (this.afterCommit.get(r) === mine) this.afterCommit.delete(r);
    }
  }

  private announce(items: readonly PersistItem[], position: number): void {
    const users = new Set<string>();
    const rooms = new Set<string>();
    for (const item of items) {
      rooms.add(item.roomId);
      if (item.pdu.type === 'm.room.member' && typeof item.pdu.state_key === 'string') users.add(item.pdu.state_key);
    }
    try {
      this.opts.notify({ stream: 'events', position, rooms: [...rooms], users: [...users] });
    } catch (e) {
      this.opts.log.error('events notifier failed', { error: String(e) });
    }
  }

  /** Derive from a batch before its stream orderings exist (positions in the batch stand in). */
  private deriveEarly(items: readonly PersistItem[], derive: NonNullable<LocalPersisterOptions['deriveWithCommit']>): Promise<DerivedWrites> {
    const events = items.map((item, i) => ({
      eventId: item.eventId,
      roomId: item.roomId,
      pdu: item.pdu,
      streamOrdering: i,
      outlier: item.outlier === true,
      rejected: item.rejectedReason !== undefined,
      replacesState: undefined,
    }));
    return derive(events);
  }

  private async runOnPersisted(items: readonly PersistItem[], events: readonly PersistedEvent[], replaced: ReadonlyMap<string, string>): Promise<void> {
    const out: NewlyPersistedEvent[] = [];
    for (let i = 0; i < items.length; i++) {
      const item = items[i] as PersistItem;
      const e = events[i];
      if (!e || e.duplicate) continue;
      out.push({
        eventId: item.eventId,
        roomId: item.roomId,
        pdu: item.pdu,
        streamOrdering: e.streamOrdering,
        outlier: item.outlier === true,
        rejected: item.rejectedReason !== undefined,
        replacesState: replaced.get(item.eventId),
      });
    }
    out.sort((a, b) => a.streamOrdering - b.streamOrdering);
    try {
      await this.opts.onPersisted?.(out);
    } catch (e) {
      this.opts.log.error('onPersisted hook failed', { error: String(e), events: out.length });
    }
  }

  /** Cache the new groups' full maps where the predecessor's map is cached (the common, hot case). */
  private rememberGroups(groups: readonly NewGroup[]): void {
    const state = this.opts.state;
    for (const g of groups) {
      if (g.prev === undefined) {
        state.remember(g.id, 0, g.entries);
        continue;
      }
      const prevMap = state.cachedFull(g.prev);
      if (!prevMap) {
        state.remember(g.id, g.depth);
        continue;
      }
      const map = new Map(prevMap);
      for (const [k, v] of g.entries) map.set(k, v);
      state.remember(g.id, g.depth, map);
    }
  }

  private async write(
    tx: ReservedSql,
    commit: CommitWith,
    items: readonly PersistItem[],
    allocated: Promise<readonly number[]>,
    derive: DerivedWrites | undefined,
  ): Promise<{ events: PersistedEvent[]; position: number; groups: NewGroup[]; replaced: Map<string, string> }> {
    const now = this.clock();
    const instance = this.opts.writer.instanceName;
    const roomIds = [...new Set(items.map((i) => i.roomId))].sort();
    // Prev events inside the batch get their state from it; only those before it are looked up.
    const inBatch = new Set(items.map((i) => i.eventId));
    const prevIds = [...new Set(items.flatMap((i) => (i.pdu.prev_events ?? []).map(referenceEventId)))].filter((id) => !inBatch.has(id));
    const stateItems = items.filter((i) => typeof i.pdu.state_key === 'string' && !i.outlier && i.rejectedReason === undefined).length;
    // One pipelined round trip (with BEGIN and the stream IDs): lock the rooms (sorted, so writers
    // cannot deadlock), then read their extremities, which events already exist, the state after the
    // prev events, and group IDs.
    // The locks are executed first: the reads behind them must see what the previous holder committed.
    const locks = roomIds.map((room) => tx`SELECT pg_advisory_xact_lock(${ROOM_LOCK_NAMESPACE}, hashtext(${room}))`.execute());
    const [ids, , extRows, existRows, prevGroups, idRows] = await Promise.all([
      allocated,
      Promise.all(locks),
      tx<{ room_id: string; event_id: string }[]>`
        SELECT room_id, event_id FROM event_forward_extremities WHERE room_id = ANY(${roomIds}::text[])`.execute(),
      // A primary-key probe per ID whatever the statistics (a plan made while the table was small
      // would otherwise scan it).
      tx<{ event_id: string }[]>`
        SELECT e.event_id FROM unnest(${items.map((i) => i.eventId)}::text[]) AS k(id)
        CROSS JOIN LATERAL (SELECT event_id FROM events WHERE event_id = k.id OFFSET 0) e`,
      this.opts.state.groupsForEvents(prevIds, tx),
      stateItems === 0 ? [] : tx<{ id: number }[]>`SELECT nextval('state_group_id_seq') AS id FROM generate_series(1, ${stateItems})`,
    ]);
    const extremities = new Map<string, Set<string>>(roomIds.map((r) => [r, new Set<string>()]));
    for (const r of extRows) extremities.get(r.room_id)?.add(r.event_id);
    const extremitiesBefore = new Map([...extremities].map(([r, set]) => [r, new Set(set)]));
    const existing = new Set(existRows.map((r) => r.event_id));
    // State after each event of this batch, and of the prev events it builds on.
    const groupAfter = new Map<string, number | undefined>(prevGroups);
    const groupIds = idRows.map((r) => Number(r.id));
    const batchGroups = new Map<number, NewGroup>();
    const eventRows: Record<string, unknown>[] = [];
    const edgeRows: Record<string, unknown>[] = [];
    const toGroupRows: Record<string, unknown>[] = [];
    const groupRows: Record<string, unknown>[] = [];
    const groupEdgeRows: Record<string, unknown>[] = [];
    const groupStateRows: Record<string, unknown>[] = [];
    const memberRows: Record<string, unknown>[] = [];
    const relationRows: Record<string, unknown>[] = [];
    const redactionRows: Record<string, unknown>[] = [];
    const txnRows: Record<string, unknown>[] = [];
    const roomRows: Record<string, unknown>[] = [];
    const deltaRows: Record<string, unknown>[] = [];
    const current = new Map<string, { room_id: string; type: string; state_key: string; event_id: string; membership: string | null }>();
    const localMembers = new Map<string, Record<string, unknown>>();
    const persisted: PersistedEvent[] = [];
    const replaced = new Map<string, string>();
    let position = 0;

    for (let i = 0; i < items.length; i++) {
      const item = items[i] as PersistItem;
      const stream = ids[i] as number;
      if (existing.has(item.eventId)) {
        // Our own new event cannot already exist unless two identical ones were built (two v12
        // rooms created by one user in the same millisecond): the creator rebuilds with a later time.
        if (item.requireExtremities) throw new StaleExtremitiesError(item.roomId);
        persisted.push({ eventId: item.eventId, streamOrdering: stream, stateGroup: undefined, duplicate: true });
        // Later events of the batch may build on it: its state is the stored one (rare; looked up here).
        if (!groupAfter.has(item.eventId)) groupAfter.set(item.eventId, (await this.opts.state.groupsForEvents([item.eventId], tx)).get(item.eventId));
        continue;
      }
      existing.add(item.eventId);
      position = Math.max(position, stream);
      const pdu = item.pdu;
      const rv = getRoomVersion(item.roomVersion);
      if (!rv) throw new Error(`unknown room version ${item.roomVersion}`);
      const prevs = (pdu.prev_events ?? []).map(referenceEventId);
      const roomExt = extremities.get(item.roomId) as Set<string>;
      const extends_ = [...roomExt].every((e) => prevs.includes(e));
      if (item.requireExtremities && !sameSet(item.requireExtremities, roomExt)) throw new StaleExtremitiesError(item.roomId);
      const outlier = item.outlier === true;
      const rejected = item.rejectedReason !== undefined;
      const sk = typeof pdu.state_key === 'string' ? pdu.state_key : undefined;
      if (hasNul(pdu.type) || hasNul(sk ?? '') || hasNul(item.eventId)) throw new Error(`event ${JSON.stringify(item.eventId)} has NUL in its type, state key or ID`);
      const content: JsonObject = isJsonObject(pdu.content) ? pdu.content : {};
      const membership = pdu.type === 'm.room.member' ? textColumn(content.membership) : null;
      const redacts = pdu.type === 'm.room.redaction' ? textColumn(redactsOf(pdu, rv)) : null;

      // State before and after.
      let before: number | undefined;
      let after: number | undefined;
      let replaces: string | undefined;
      if (!outlier) {
        before = this.groupBefore(item, prevs, groupAfter);
        after = before;
        if (sk !== undefined && !rejected) {
          const k = stateKey(pdu.type, sk);
          replaces = before === undefined ? undefined : await this.lookup(tx, batchGroups, before, k);
          if (replaces !== undefined) replaced.set(item.eventId, replaces);
          const group = await this.newGroup(tx, batchGroups, groupIds.shift() as number, before, k, item);
          batchGroups.set(group.id, group);
          groupRows.push({ id: group.id, room_id: item.roomId, event_id: item.eventId, delta_depth: group.depth });
          if (group.prev !== undefined) groupEdgeRows.push({ state_group: group.id, prev_state_group: group.prev });
          for (const [gk, id] of group.entries) {
            const [type, key] = splitKey(gk);
            groupStateRows.push({ state_group: group.id, room_id: item.roomId, type, state_key: key, event_id: id });
          }
          after = group.id;
        }
        groupAfter.set(item.eventId, after);
        if (after !== undefined) toGroupRows.push({ event_id: item.eventId, state_group: after });
      }

      eventRows.push({
        stream_ordering: stream,
        topological_ordering: pdu.depth,
        event_id: item.eventId,
        room_id: item.roomId,
        type: pdu.type,
        state_key: sk ?? null,
        sender: pdu.sender,
        origin_server_ts: pdu.origin_server_ts,
        received_ts: now,
        membership,
        redacts,
        replaces_state: replaces ?? null,
        contains_url: typeof content.url === 'string',
        rejected_reason: item.rejectedReason ?? null,
        outlier,
        instance_name: instance,
        txn_id: item.txn?.txnId ?? null,
        txn_scope: item.txn?.scope ?? null,
        json: canonicalJson(pdu, { lenientNumbers: !rv.strictCanonicalJson }),
      });
      for (const p of prevs) edgeRows.push({ event_id: item.eventId, prev_event_id: p });

      if (!outlier && !rejected) {
        for (const p of prevs) roomExt.delete(p);
        roomExt.add(item.eventId);
        if (!extends_) {
          this.opts.log.warn('event does not extend the current state of its room; current state left as it was', {
            room_id: item.roomId,
            event_id: item.eventId,
          });
        }
      }
      if (rejected) {
        persisted.push({ eventId: item.eventId, streamOrdering: stream, stateGroup: after, duplicate: false });
        continue;
      }

      const changesCurrent = !outlier && extends_ && sk !== undefined;
      if (changesCurrent) {
        const ck = `${item.roomId}\u0000${pdu.type}\u0000${sk}`;
        current.set(ck, { room_id: item.roomId, type: pdu.type, state_key: sk, event_id: item.eventId, membership });
        deltaRows.push({
          stream_id: stream,
          room_id: item.roomId,
          type: pdu.type,
          state_key: sk,
          event_id: item.eventId,
          prev_event_id: replaces ?? null,
          instance_name: instance,
        });
      }
      if (membership !== null && sk !== undefined) {
        memberRows.push({
          event_id: item.eventId,
          user_id: sk,
          sender: pdu.sender,
          room_id: item.roomId,
          membership,
          stream_ordering: stream,
          displayname: textColumn(content.displayname),
          avatar_url: textColumn(content.avatar_url),
        });
        // Remote invites arrive as outliers and still belong in the invitee's room list.
        if (serverOf(sk) === this.opts.serverName && (changesCurrent || outlier)) {
          localMembers.set(`${sk}\u0000${item.roomId}`, {
            room_id: item.roomId,
            user_id: sk,
            event_id: item.eventId,
            membership,
            stream_ordering: stream,
            forgotten: false,
          });
        }
      }
      if (pdu.type === 'm.room.create' && sk === '' && !outlier) {
        const v = content.room_version;
        roomRows.push({
          room_id: item.roomId,
          room_version: typeof v === 'string' ? v : '1',
          creator: rv.implicitRoomCreator ? pdu.sender : typeof content.creator === 'string' ? content.creator : null,
          is_public: false,
          created_ts: pdu.origin_server_ts,
        });
      }
      const relation = relationOf(content);
      if (relation && !hasNul(relation.relType + relation.eventId + (relation.key ?? ''))) relationRows.push({ event_id: item.eventId, relates_to_id: relation.eventId, relation_type: relation.relType, aggregation_key: relation.key ?? null });
      if (redacts !== null && item.applyRedaction !== false) {
        redactionRows.push({ event_id: item.eventId, redacts, received_ts: now, have_censored: false });
      }
      if (item.txn) {
        txnRows.push({
          user_id: item.txn.userId,
          txn_scope: item.txn.scope,
          room_id: item.roomId,
          txn_id: item.txn.txnId,
          event_id: item.eventId,
          inserted_ts: now,
        });
      }
      persisted.push({ eventId: item.eventId, streamOrdering: stream, stateGroup: after, duplicate: false });
    }

    // Every write below is independent (no foreign keys): issue them all, pipelined, in one go.
    const writes: Statement[] = [
      ...insertRows(tx, 'rooms', roomRows),
      ...insertRows(tx, 'events', eventRows),
      ...insertRows(tx, 'event_edges', edgeRows),
      ...insertRows(tx, 'state_groups', groupRows),
      ...insertRows(tx, 'state_group_edges', groupEdgeRows),
      ...insertRows(tx, 'state_groups_state', groupStateRows),
      ...insertRows(tx, 'event_to_state_groups', toGroupRows),
      ...insertRows(tx, 'room_memberships', memberRows),
      ...insertRows(tx, 'event_relations', relationRows),
      ...insertRows(tx, 'redactions', redactionRows),
      ...insertRows(tx, 'event_txn_id', txnRows),
      ...insertRows(tx, 'current_state_delta_stream', deltaRows),
    ];
    if (current.size > 0) {
      writes.push(tx`
        INSERT INTO current_state_events ${tx([...current.values()])}
        ON CONFLICT (room_id, type, state_key) DO UPDATE SET event_id = EXCLUDED.event_id, membership = EXCLUDED.membership`);
    }
    if (localMembers.size > 0) {
      writes.push(tx`
        INSERT INTO local_current_membership ${tx([...localMembers.values()] as never)}
        ON CONFLICT (user_id, room_id) DO UPDATE SET event_id = EXCLUDED.event_id, membership = EXCLUDED.membership,
          stream_ordering = EXCLUDED.stream_ordering, forgotten = false`);
    }
    // Extremity changes as disjoint deletes and inserts, so the pipelined statements need no order.
    const removed: Array<{ room_id: string; event_id: string }> = [];
    const added: Array<{ room_id: string; event_id: string }> = [];
    for (const [room_id, now] of extremities) {
      const was = extremitiesBefore.get(room_id) ?? new Set<string>();
      for (const event_id of was) if (!now.has(event_id)) removed.push({ room_id, event_id });
      for (const event_id of now) if (!was.has(event_id)) added.push({ room_id, event_id });
    }
    if (removed.length > 0) {
      writes.push(tx`
        DELETE FROM event_forward_extremities
        WHERE (room_id, event_id) IN (SELECT * FROM unnest(${removed.map((r) => r.room_id)}::text[], ${removed.map((r) => r.event_id)}::text[]))`);
    }
    writes.push(...insertRows(tx, 'event_forward_extremities', added));
    if (derive) {
      const orderings = new Map<string, number>();
      for (const e of persisted) if (!e.duplicate) orderings.set(e.eventId, e.streamOrdering);
      writes.push(...derive(tx, orderings));
    }
    await commit(writes);
    if (position === 0) position = this.opts.writer.position;
    return { events: persisted, position, groups: [...batchGroups.values()], replaced };
  }

  private groupBefore(item: PersistItem, prevs: readonly string[], groupAfter: ReadonlyMap<string, number | undefined>): number | undefined {
    if (item.stateGroupBefore !== undefined) return item.stateGroupBefore ?? undefined;
    if (prevs.length === 0) return undefined;
    if (prevs.length > 1) {
      throw new Error(`event ${item.eventId} has several prev_events: the caller must resolve and pass stateGroupBefore`);
    }
    const g = groupAfter.get(prevs[0] as string);
    if (g === undefined) throw new Error(`no state is known after ${prevs[0]}, the prev event of ${item.eventId}`);
    return g;
  }

  /** One state entry of a group that may have been made earlier in this batch. */
  private async lookup(tx: Sql, batch: ReadonlyMap<number, NewGroup>, group: number, key: StateKey): Promise<string | undefined> {
    let g: number | undefined = group;
    while (g !== undefined) {
      const made = batch.get(g);
      if (!made) break;
      const hit = made.entries.get(key);
      if (hit !== undefined) return hit;
      if (made.prev === undefined) return undefined;
      g = made.prev;
    }
    if (g === undefined) return undefined;
    const [type, sk] = splitKey(key);
    return (await this.opts.state.groupState(g, [[type, sk]], tx)).get(key);
  }

  /** The full state of a group that may have been made earlier in this batch. */
  private async fullState(tx: Sql, batch: ReadonlyMap<number, NewGroup>, group: number): Promise<StateMap> {
    const made = batch.get(group);
    if (!made) return this.opts.state.groupState(group, undefined, tx);
    const base = made.prev === undefined ? new Map<StateKey, string>() : new Map(await this.fullState(tx, batch, made.prev));
    for (const [k, v] of made.entries) base.set(k, v);
    return base;
  }

  private async depthOf(tx: Sql, batch: ReadonlyMap<number, NewGroup>, group: number): Promise<number> {
    return batch.get(group)?.depth ?? this.opts.state.groupDepth(group, tx);
  }

  /** A delta on `before` while the chain stays short, else a full snapshot. */
  private async newGroup(
    tx: Sql,
    batch: ReadonlyMap<number, NewGroup>,
    id: number,
    before: number | undefined,
    key: StateKey,
    item: PersistItem,
  ): Promise<NewGroup> {
    const base = { id, roomId: item.roomId, eventId: item.eventId };
    if (before !== undefined) {
      const depth = (await this.depthOf(tx, batch, before)) + 1;
      if (depth <= this.maxDelta) return { ...base, prev: before, depth, entries: new Map([[key, item.eventId]]) };
    }
    const full = before === undefined ? new Map<StateKey, string>() : new Map(await this.fullState(tx, batch, before));
    full.set(key, item.eventId);
    return { ...base, prev: undefined, depth: 0, entries: full };
  }
}
