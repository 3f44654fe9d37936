/**
 * Creating local events. All event creation for a room goes through one in-process queue per room:
 * jobs waiting for the room are taken together as a batch, each job appends its events to one
 * shared draft (a linear chain on the room's forward extremities), and the whole batch is persisted
 * in one transaction. One job's refusal (403, 400) is rolled back without affecting the others.
 *
 * Serialising per room keeps this process from forking the DAG; the persister's extremity check
 * (StaleExtremitiesError → rebuild) keeps two processes from doing so if a room is ever written
 * from two places. Routing each room to one events writer makes that retry rare.
 */
import type { Logger } from '@hs/core';
import { MatrixError, errors } from '@hs/core';
import type { RoomVersion, StateKey, EventView } from '@hs/events';
import { getRoomVersion, stateKey } from '@hs/events';
import type { EventStore } from './event-store.ts';
import type { EventPersister, PersistItem, PersistResult } from './persister.ts';
import { changesRoom, StaleExtremitiesError } from './persister.ts';
import type { TxnKey } from './ids.ts';
import type { RoomHead } from './room-draft.ts';
import { RoomDraft } from './room-draft.ts';
import { WeightedLru } from './lru.ts';
import type { ServerKey } from './deps.ts';
import { eventViewOf } from './stored-event.ts';

/** Work on a room's draft: append events (or decide there is nothing to do) and return a result. */
export type DraftJob<T> = (draft: RoomDraft) => Promise<T>;

interface Pending {
  readonly job: DraftJob<unknown>;
  /** The client transaction the job may repeat, read for the whole batch up front. */
  readonly txn?: TxnKey;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

export interface EventCreatorOptions {
  readonly store: EventStore;
  readonly persister: EventPersister;
  readonly serverName: string;
  readonly serverKey: ServerKey;
  readonly log: Logger;
  readonly clock?: () => number;
  /** Jobs taken per batch. Default 64. */
  readonly maxBatchJobs?: number;
}

const MAX_ATTEMPTS = 5;

function retryable(e: unknown): boolean {
  // A concurrent writer moved the room on, or raced us to a send transaction: rebuild.
  return e instanceof StaleExtremitiesError || (e as { code?: unknown })?.code === '23505';
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

function settle(batch: readonly Pending[], outcomes: readonly Outcome[]): void {
  batch.forEach((p, i) => {
    const o = outcomes[i];
    if (o?.ok) p.resolve(o.value);
    else p.reject(o?.error);
  });
}

export class EventCreator {
  private readonly opts: EventCreatorOptions;
  private readonly queues = new Map<string, Pending[]>();
  private readonly clock: () => number;
  /** The last create-event timestamp used: v12 room IDs hash the create event, so no two may match. */
  private lastCreateTs = 0;
  /**
   * Each room's head after our last batch, so the next batch starts without reading the database.
   * Safe across processes: if anyone else wrote the room its extremities moved, the persister
   * refuses our batch, and the retry reads afresh.
   */
  private readonly heads = new WeightedLru<string, RoomHead>(200_000, (h) => h.known.size + 1);
  /** Per room, the end of its last batch's persist (after the commit: push actions, notification). */
  private readonly settling = new Map<string, Promise<void>>();
  /** Called after each batch is persisted and announced (tests and metrics). */
  onPersisted: ((result: PersistResult) => void) | undefined;

  constructor(opts: EventCreatorOptions) {
    this.opts = opts;
    this.clock = opts.clock ?? Date.now;
  }

  /**
   * Run a job against an existing room, after the jobs already queued for it. A job that looks up a
   * client transaction names it, so the batch reads them all at once (`RoomDraft.txnEvent`).
   */
  inRoom<T>(roomId: string, job: DraftJob<T>, opts: { readonly txn?: TxnKey } = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const pending: Pending = { job: job as DraftJob<unknown>, resolve: resolve as (v: unknown) => void, reject, ...(opts.txn ? { txn: opts.txn } : {}) };
      const queue = this.queues.get(roomId);
      if (queue) {
        queue.push(pending);
        return;
      }
      this.queues.set(roomId, [pending]);
      void this.drain(roomId);
    });
  }

  /** Build a new room: the job appends its create event first. Nobody else can know the room yet. */
  async newRoom<T>(roomVersion: RoomVersion, roomId: string | undefined, job: DraftJob<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const pending: Pending = { job: job as DraftJob<unknown>, resolve: resolve as (v: unknown) => void, reject };
      void this.runBatch(async () => {
        this.lastCreateTs = Math.max(this.clock(), this.lastCreateTs + 1);
        return this.draftFor(roomId, roomVersion, [], { minTs: this.lastCreateTs });
      }, [pending]);
    });
  }

  private async drain(roomId: string): Promise<void> {
    const queue = this.queues.get(roomId) as Pending[];
    try {
      while (queue.length > 0) {
        const batch = queue.splice(0, this.opts.maxBatchJobs ?? 64);
        await this.runBatch((fresh) => this.openDraft(roomId, fresh), batch);
      }
    } finally {
      this.queues.delete(roomId);
    }
  }

  private async runBatch(open: (fresh: boolean) => Promise<RoomDraft>, batch: readonly Pending[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      let draft: RoomDraft;
      try {
        draft = await open(attempt > 1);
      } catch (e) {
        for (const p of batch) p.reject(e);
        return;
      }
      const txns = batch.flatMap((p) => (p.txn ? [p.txn] : []));
      if (txns.length > 0 && draft.hasEvents) {
        try {
          draft.preloadTxns(txns, await this.opts.store.getEventIdsForTxns(draft.roomId, txns));
        } catch (e) {
          for (const p of batch) p.reject(e);
          return;
        }
      }
      const outcomes: Outcome[] = [];
      for (const p of batch) {
        const mark = draft.checkpoint();
        try {
          outcomes.push({ ok: true, value: await p.job(draft) });
        } catch (error) {
          draft.rollback(mark);
          outcomes.push({ ok: false, error });
        }
      }
      if (draft.items.length > 0) {
        const roomId = draft.roomId;
        try {
          // State changes and redactions wait until what follows the room's previous commit is done:
          // its push actions are computed against the room's current state.
          if (draft.items.some(changesRoom)) await this.settling.get(roomId);
          const { done } = await this.persistUntilCommitted(draft.items);
          // A redaction may prune a state event the head holds: read the room afresh next time.
          if (draft.items.some((i) => i.pdu.type === 'm.room.redaction')) this.heads.delete(roomId);
          else this.heads.set(roomId, draft.head());
          // Committed: the room's next batch may go ahead; the senders hear once the events are announced.
          const settled = done.then(
            (result) => this.onPersisted?.(result),
            (e: unknown) => this.opts.log.error('after committing events', { room_id: roomId, error: String(e) }),
          );
          this.settling.set(roomId, settled);
          void settled.then(() => {
            if (this.settling.get(roomId) === settled) this.settling.delete(roomId);
            settle(batch, outcomes);
          });
          return;
        } catch (e) {
          this.heads.delete(roomId);
          if (retryable(e) && attempt < MAX_ATTEMPTS) {
            this.opts.log.debug('rebuilding events on fresh room state', { error: String(e), attempt });
            continue;
          }
          this.opts.log.error('persisting events failed', { error: String(e) });
          const failure = e instanceof MatrixError ? e : errors.unknown('Could not persist the event');
          batch.forEach((p, i) => {
            const o = outcomes[i];
            p.reject(o && !o.ok ? o.error : failure);
          });
          return;
        }
      }
      settle(batch, outcomes);
      return;
    }
  }

  /**
   * Persist, resolving once the events are committed (or, with a persister that cannot tell, once it
   * is done) with the whole persist; rejects if it fails before the commit.
   */
  private persistUntilCommitted(items: readonly PersistItem[]): Promise<{ done: Promise<PersistResult> }> {
    return new Promise((resolve, reject) => {
      // Wrapped: resolving with the promise itself would wait for it.
      const done: Promise<PersistResult> = this.opts.persister.persist(items, { onCommitted: () => resolve({ done }) });
      done.then(() => resolve({ done }), reject);
    });
  }

  /** From the cached head, or the room's version and forward extremities in one query; 404 for a room we do not know. */
  private async openDraft(roomId: string, fresh: boolean): Promise<RoomDraft> {
    const head = fresh ? undefined : this.heads.get(roomId);
    if (head) return this.draftFor(roomId, head.roomVersion, [...head.extremities], { known: head.known });
    const rows = await this.opts.store.sql<{ room_version: string; event_id: string | null; depth: number | null }[]>`
      SELECT r.room_version, x.event_id, e.topological_ordering AS depth
      FROM rooms r
      LEFT JOIN event_forward_extremities x ON x.room_id = r.room_id
      LEFT JOIN events e ON e.event_id = x.event_id
      WHERE r.room_id = ${roomId}`;
    const first = rows[0];
    if (!first) throw errors.notFound(`Unknown room ${roomId}`);
    const rv = getRoomVersion(first.room_version);
    if (!rv) throw new MatrixError(400, 'M_UNSUPPORTED_ROOM_VERSION', `Room version ${first.room_version} is not supported`);
    const extremities = rows.flatMap((r) => (r.event_id === null ? [] : [{ eventId: r.event_id, depth: Number(r.depth ?? 0) }]));
    if (extremities.length === 0) throw errors.notFound(`Room ${roomId} has no events this server can build on`);
    return this.draftFor(roomId, rv, extremities);
  }

  private draftFor(
    roomId: string | undefined,
    rv: RoomVersion,
    extremities: Array<{ eventId: string; depth: number }>,
    extra: { minTs?: number; known?: ReadonlyMap<StateKey, EventView | null> } = {},
  ): RoomDraft {
    const store = this.opts.store;
    return new RoomDraft({
      roomId,
      ...extra,
      roomVersion: rv,
      extremities,
      serverName: this.opts.serverName,
      serverKey: this.opts.serverKey,
      clock: this.clock,
      loadState: async (keys) => {
        const events = await store.getCurrentStateEvents(roomId as string, keys);
        const out = new Map<StateKey, EventView>();
        for (const ev of events) if (ev.stateKey !== undefined) out.set(stateKey(ev.type, ev.stateKey), eventViewOf(ev));
        return out;
      },
    });
  }
}
