/**
 * Derived tables from the `events` stream: `event_search` (full-text search), `threads` (thread
 * roots by latest reply), `room_stats` (directory summaries) and `user_directory` (profiles to
 * search). Why a follower of the stream instead of a hook in the persister:
 *   - crash-safe: each batch's rows and the new position commit in one transaction, so nothing is
 *     lost or doubled, whatever process dies when;
 *   - every event is covered, however it was persisted (local sends, later federation, any writer),
 *     and the rooms write path stays as it is;
 *   - any process may run it: the position row is locked FOR UPDATE, so concurrent indexers take
 *     turns and never index a range twice.
 * It never reads past `position()`, the stream position this process knows to be fully committed,
 * so an event whose transaction is still open is never skipped. Handlers that read these tables call
 * `catchUpQuietly()` first, so a client sees its own writes; a background duty calls `schedule()` on
 * every `events` notification to keep the tables fresh between reads.
 */
import type { JsonObject, Logger } from '@hs/core';
import { isJsonObject } from '@hs/core';
import type { EventStore } from '@hs/rooms';
import { notRedactedSql } from '@hs/rooms';
import type { Sql, TransactionSql } from '@hs/storage';
import { directoryWords, searchableText } from './searchable.ts';
import { affectsStats, recomputeRoomStats } from './room-stats.ts';

export interface IndexerOptions {
  readonly sql: Sql;
  readonly store: EventStore;
  readonly log: Logger;
  /** The `events` stream position up to which everything is committed. */
  position(): number;
  /** Events per transaction. Default 1000. */
  readonly batchSize?: number;
  /** Batches a request-time catch-up may run before answering (the rest is left to the duty). Default 5. */
  readonly requestBatches?: number;
  /** Delay of `schedule()`, coalescing bursts of notifications. Default 50 ms. */
  readonly debounceMs?: number;
}

interface EventRow {
  event_id: string;
  room_id: string;
  type: string;
  state_key: string | null;
  sender: string;
  origin_server_ts: number;
  stream_ordering: number;
  topological_ordering: number;
  redacts: string | null;
  json: string;
}

interface DeltaRow {
  stream_id: number;
  room_id: string;
  type: string;
  state_key: string;
  event_id: string | null;
}

export class RoomApiIndexer {
  private readonly opts: IndexerOptions;
  private readonly batchSize: number;
  /** A lower bound of the stored position (another process may have gone further). */
  private reached = -1;
  private tail: Promise<unknown> = Promise.resolve();
  private queued: { target: number; promise: Promise<number> } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(opts: IndexerOptions) {
    this.opts = opts;
    this.batchSize = opts.batchSize ?? 1000;
  }

  /** Index everything up to the current position (at most `maxBatches` transactions); returns where it stopped. */
  catchUp(maxBatches = Infinity): Promise<number> {
    const target = this.opts.position();
    if (this.reached >= target) return Promise.resolve(this.reached);
    if (this.queued && this.queued.target >= target) return this.queued.promise;
    const entry: { target: number; promise: Promise<number> } = { target, promise: Promise.resolve(0) };
    entry.promise = this.tail.then(() => {
      if (this.queued === entry) this.queued = undefined;
      return this.runTo(target, maxBatches);
    });
    this.queued = entry;
    this.tail = entry.promise.catch(() => {});
    return entry.promise;
  }

  /** For request handlers: a bounded catch-up whose failure is logged, not thrown (answer from what is indexed). */
  async catchUpQuietly(): Promise<void> {
    try {
      await this.catchUp(this.opts.requestBatches ?? 5);
    } catch (e) {
      this.opts.log.warn('room index catch-up failed', { error: String(e) });
    }
  }

  /** Catch up soon (call on every `events` notification); bursts collapse into one run. */
  schedule(): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.catchUp().catch((e) => this.opts.log.warn('room index catch-up failed', { error: String(e) }));
    }, this.opts.debounceMs ?? 50);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.tail;
  }

  private async runTo(target: number, maxBatches: number): Promise<number> {
    for (let n = 0; n < maxBatches; n++) {
      const { position, done } = await this.opts.sql.begin((tx) => this.batch(tx, target));
      this.reached = Math.max(this.reached, position);
      if (done) break;
    }
    return this.reached;
  }

  /** One transaction: the next events after the stored position (up to `target`), applied, and the new position. */
  private async batch(tx: TransactionSql, target: number): Promise<{ position: number; done: boolean }> {
    const [pos] = await tx<{ stream_id: number }[]>`SELECT stream_id FROM room_api_index_position FOR UPDATE`;
    const from = Number(pos?.stream_id ?? 0);
    if (from >= target) return { position: from, done: true };
    const events = await tx<EventRow[]>`
      SELECT event_id, room_id, type, state_key, sender, origin_server_ts, stream_ordering, topological_ordering, redacts, json
      FROM events
      WHERE stream_ordering > ${from} AND stream_ordering <= ${target} AND NOT outlier AND rejected_reason IS NULL
      ORDER BY stream_ordering ASC LIMIT ${this.batchSize}`;
    const full = events.length === this.batchSize;
    const upto = full ? Number((events.at(-1) as EventRow).stream_ordering) : target;
    const deltas = await tx<DeltaRow[]>`
      SELECT stream_id, room_id, type, state_key, event_id FROM current_state_delta_stream
      WHERE stream_id > ${from} AND stream_id <= ${upto} ORDER BY stream_id ASC`;

    await this.indexSearch(tx, events);
    await this.indexThreads(tx, events);
    const statsRooms = new Set(deltas.filter((d) => affectsStats(d.type)).map((d) => d.room_id));
    for (const room of await this.applyRedactions(tx, events)) statsRooms.add(room);
    await recomputeRoomStats(tx, this.opts.store, [...statsRooms]);
    await this.indexProfiles(tx, deltas);
    await tx`UPDATE room_api_index_position SET stream_id = ${upto}`;
    return { position: upto, done: !full };
  }

  private async indexSearch(tx: TransactionSql, events: readonly EventRow[]): Promise<void> {
    const rows: Array<{ id: string; room: string; sender: string; key: string; text: string; ts: number; so: number }> = [];
    for (const e of events) {
      if (e.type !== 'm.room.message' && e.type !== 'm.room.name' && e.type !== 'm.room.topic') continue;
      const found = searchableText(e.type, e.state_key ?? undefined, parseContent(e.json));
      if (found) rows.push({ id: e.event_id, room: e.room_id, sender: e.sender, key: found.key, text: found.text, ts: Number(e.origin_server_ts), so: Number(e.stream_ordering) });
    }
    if (rows.length === 0) return;
    await tx`
      INSERT INTO event_search (event_id, room_id, sender, key, vector, origin_server_ts, stream_ordering)
      SELECT u.id, u.room, u.sender, u.key, to_tsvector('english', u.text), u.ts, u.so
      FROM unnest(${rows.map((r) => r.id)}::text[], ${rows.map((r) => r.room)}::text[], ${rows.map((r) => r.sender)}::text[],
                  ${rows.map((r) => r.key)}::text[], ${rows.map((r) => r.text)}::text[], ${rows.map((r) => r.ts)}::bigint[],
                  ${rows.map((r) => r.so)}::bigint[]) AS u(id, room, sender, key, text, ts, so)
      ON CONFLICT (event_id) DO NOTHING`;
  }

  private async indexThreads(tx: TransactionSql, events: readonly EventRow[]): Promise<void> {
    if (events.length === 0) return;
    const rels = await tx<{ event_id: string; relates_to_id: string }[]>`
      SELECT event_id, relates_to_id FROM event_relations
      WHERE event_id = ANY(${events.map((e) => e.event_id)}::text[]) AND relation_type = 'm.thread'`;
    if (rels.length === 0) return;
    const byId = new Map(events.map((e) => [e.event_id, e]));
    const latest = new Map<string, { room_id: string; thread_id: string; latest_event_id: string; topological_ordering: number; stream_ordering: number }>();
    for (const r of rels) {
      const e = byId.get(r.event_id);
      if (!e) continue;
      const key = `${e.room_id}\u0001${r.relates_to_id}`;
      const cur = latest.get(key);
      const t = Number(e.topological_ordering);
      const s = Number(e.stream_ordering);
      if (!cur || t > cur.topological_ordering || (t === cur.topological_ordering && s > cur.stream_ordering)) {
        latest.set(key, { room_id: e.room_id, thread_id: r.relates_to_id, latest_event_id: e.event_id, topological_ordering: t, stream_ordering: s });
      }
    }
    await tx`
      INSERT INTO threads ${tx([...latest.values()])}
      ON CONFLICT (room_id, thread_id) DO UPDATE SET
        latest_event_id = EXCLUDED.latest_event_id, topological_ordering = EXCLUDED.topological_ordering,
        stream_ordering = EXCLUDED.stream_ordering
      WHERE (threads.topological_ordering, threads.stream_ordering) < (EXCLUDED.topological_ordering, EXCLUDED.stream_ordering)`;
  }

  /**
   * Redactions that apply: the target leaves the search index, a thread whose reply it was gets its
   * latest reply recomputed, and a room whose current state it was needs its summary redone.
   */
  private async applyRedactions(tx: TransactionSql, events: readonly EventRow[]): Promise<string[]> {
    const redactions = events.filter((e) => e.type === 'm.room.redaction' && e.redacts !== null);
    if (redactions.length === 0) return [];
    const applied = await tx<{ redacts: string }[]>`
      SELECT rd.redacts FROM redactions rd JOIN events t ON t.event_id = rd.redacts JOIN events re ON re.event_id = rd.event_id
      WHERE rd.event_id = ANY(${redactions.map((e) => e.event_id)}::text[]) AND t.room_id = re.room_id`;
    const targets = [...new Set(applied.map((a) => a.redacts))];
    if (targets.length === 0) return [];
    await tx`DELETE FROM event_search WHERE event_id = ANY(${targets}::text[])`;
    const threads = await tx<{ room_id: string; thread_id: string }[]>`
      SELECT DISTINCT e.room_id, r.relates_to_id AS thread_id FROM event_relations r JOIN events e ON e.event_id = r.event_id
      WHERE r.event_id = ANY(${targets}::text[]) AND r.relation_type = 'm.thread'`;
    for (const t of threads) await this.recomputeThread(tx, t.room_id, t.thread_id);
    const stateRooms = await tx<{ room_id: string }[]>`
      SELECT DISTINCT room_id FROM current_state_events WHERE event_id = ANY(${targets}::text[])`;
    return stateRooms.map((r) => r.room_id);
  }

  private async recomputeThread(tx: TransactionSql, roomId: string, threadId: string): Promise<void> {
    const [latest] = await tx<{ event_id: string; topological_ordering: number; stream_ordering: number }[]>`
      SELECT e.event_id, e.topological_ordering, e.stream_ordering
      FROM event_relations r JOIN events e ON e.event_id = r.event_id
      WHERE r.relates_to_id = ${threadId} AND r.relation_type = 'm.thread' AND e.room_id = ${roomId}
        AND NOT e.outlier AND e.rejected_reason IS NULL
        AND ${notRedactedSql(tx)}
      ORDER BY e.topological_ordering DESC, e.stream_ordering DESC LIMIT 1`;
    if (!latest) {
      await tx`DELETE FROM threads WHERE room_id = ${roomId} AND thread_id = ${threadId}`;
      return;
    }
    await tx`
      UPDATE threads SET latest_event_id = ${latest.event_id}, topological_ordering = ${latest.topological_ordering},
        stream_ordering = ${latest.stream_ordering}
      WHERE room_id = ${roomId} AND thread_id = ${threadId}`;
  }

  /** Each user's profile from their latest join event (a newer one wins; leaving keeps the profile). */
  private async indexProfiles(tx: TransactionSql, deltas: readonly DeltaRow[]): Promise<void> {
    const joins = deltas.filter((d) => d.type === 'm.room.member' && d.event_id !== null);
    if (joins.length === 0) return;
    const members = await tx<{ event_id: string; user_id: string; displayname: string | null; avatar_url: string | null; stream_ordering: number }[]>`
      SELECT event_id, user_id, displayname, avatar_url, stream_ordering FROM room_memberships
      WHERE event_id = ANY(${joins.map((d) => d.event_id as string)}::text[]) AND membership = 'join'`;
    const latest = new Map<string, (typeof members)[number]>();
    for (const m of members) {
      const cur = latest.get(m.user_id);
      if (!cur || Number(m.stream_ordering) > Number(cur.stream_ordering)) latest.set(m.user_id, m);
    }
    if (latest.size === 0) return;
    const rows = [...latest.values()];
    await tx`
      INSERT INTO user_directory (user_id, display_name, avatar_url, stream_ordering, vector)
      SELECT u.user_id, u.display_name, u.avatar_url, u.so, array_to_tsvector(string_to_array(u.words, ' '))
      FROM unnest(${rows.map((r) => r.user_id)}::text[], ${rows.map((r) => r.displayname)}::text[], ${rows.map((r) => r.avatar_url)}::text[],
                  ${rows.map((r) => Number(r.stream_ordering))}::bigint[],
                  ${rows.map((r) => directoryWords(r.user_id, r.displayname ?? undefined).join(' '))}::text[])
           AS u(user_id, display_name, avatar_url, so, words)
      ON CONFLICT (user_id) DO UPDATE SET
        display_name = EXCLUDED.display_name, avatar_url = EXCLUDED.avatar_url,
        stream_ordering = EXCLUDED.stream_ordering, vector = EXCLUDED.vector
      WHERE user_directory.stream_ordering < EXCLUDED.stream_ordering`;
  }
}

function parseContent(json: string): JsonObject | undefined {
  try {
    const pdu = JSON.parse(json) as unknown;
    return isJsonObject(pdu) && isJsonObject(pdu.content) ? pdu.content : undefined;
  } catch {
    return undefined;
  }
}
