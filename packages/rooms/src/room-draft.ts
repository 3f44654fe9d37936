/**
 * Building a chain of new events in one room before they are persisted together. The draft starts
 * from the room's forward extremities and current state (read lazily, only the keys the auth rules
 * need), and each appended event is built, signed and checked against the state before it — the
 * draft's state after the previous event — so a batch of sends or a whole createRoom is one linear
 * chain persisted in one transaction. Each step can be rolled back if a later check fails.
 */
import type { JsonObject } from '@hs/core';
import { MatrixError, errors, isCanonicalJsonValue } from '@hs/core';
import type { EventView, PDU, RoomVersion, StateKey } from '@hs/events';
import { authEventTypesFor, buildEvent, checkLocalEvent, stateKey } from '@hs/events';
import type { PersistItem } from './persister.ts';
import type { ServerKey } from './deps.ts';
import { hasNul, txnKeyOf, type TxnKey } from './ids.ts';

/** Loads current-state events of the room for the given keys (absent keys are left out). */
export type StateLoader = (keys: ReadonlyArray<readonly [string, string]>) => Promise<Map<StateKey, EventView>>;

export interface AppendSpec {
  readonly sender: string;
  readonly type: string;
  readonly stateKey?: string;
  readonly content: JsonObject;
  /** For m.room.redaction: placed top-level or in content as the room version wants. */
  readonly redacts?: string;
  readonly txn?: { readonly userId: string; readonly scope: string; readonly txnId: string };
  /** For m.room.redaction: whether it applies to its target (see PersistItem). */
  readonly applyRedaction?: boolean;
}

export interface AppendedEvent {
  readonly eventId: string;
  readonly pdu: PDU;
  readonly view: EventView;
}

export interface DraftInit {
  /** Unknown only before a room v12 create event is appended. */
  readonly roomId: string | undefined;
  readonly roomVersion: RoomVersion;
  /** The room's forward extremities (all of them) and their depths. */
  readonly extremities: ReadonlyArray<{ readonly eventId: string; readonly depth: number }>;
  readonly loadState: StateLoader;
  readonly serverName: string;
  readonly serverKey: ServerKey;
  readonly clock: () => number;
  /** Lowest origin_server_ts to use (keeps new rooms' create events distinct). */
  readonly minTs?: number;
  /** State entries already known (null: known to be absent), e.g. from the previous batch. */
  readonly known?: ReadonlyMap<StateKey, EventView | null>;
}

/** Where a room stands after a draft: enough to start the next draft without reading the database. */
export interface RoomHead {
  readonly roomId: string;
  readonly roomVersion: RoomVersion;
  readonly extremities: ReadonlyArray<{ readonly eventId: string; readonly depth: number }>;
  readonly known: ReadonlyMap<StateKey, EventView | null>;
}

/** At most this many prev_events per event; the deepest extremities are chosen. */
export const MAX_LOCAL_PREV_EVENTS = 10;

const NONE: unique symbol = Symbol('none');

export class RoomDraft {
  readonly roomVersion: RoomVersion;
  readonly items: PersistItem[] = [];
  private roomIdValue: string | undefined;
  private extremities: Array<{ eventId: string; depth: number }>;
  private readonly loaded = new Map<StateKey, EventView | typeof NONE>();
  private readonly overlay = new Map<StateKey, EventView>();
  private readonly txns = new Map<string, string>();
  /** Transactions read for the whole batch before its jobs ran: key → event ID, or null (none). */
  private readonly storedTxns = new Map<string, string | null>();
  private readonly undo: Array<() => void> = [];
  private readonly init: DraftInit;
  private lastTs = 0;

  constructor(init: DraftInit) {
    this.init = init;
    this.roomIdValue = init.roomId;
    this.roomVersion = init.roomVersion;
    this.extremities = [...init.extremities];
    this.lastTs = init.minTs ?? 0;
    for (const [k, v] of init.known ?? []) this.loaded.set(k, v ?? NONE);
  }

  /** The room after everything appended so far. */
  head(): RoomHead {
    const known = new Map<StateKey, EventView | null>();
    for (const [k, v] of this.loaded) known.set(k, v === NONE ? null : v);
    for (const [k, v] of this.overlay) known.set(k, v);
    return { roomId: this.roomId, roomVersion: this.roomVersion, extremities: this.extremities, known };
  }

  get roomId(): string {
    if (this.roomIdValue === undefined) throw new Error('the room ID is not known before the create event');
    return this.roomIdValue;
  }

  /** Whether the room has any events (false while drafting a new room's create event). */
  get hasEvents(): boolean {
    return this.extremities.length > 0;
  }

  /** Make sure these keys of the state are in memory (one query for the missing ones). */
  async load(keys: ReadonlyArray<readonly [string, string]>): Promise<void> {
    const missing = keys.filter(([t, k]) => {
      const sk = stateKey(t, k);
      return !this.overlay.has(sk) && !this.loaded.has(sk);
    });
    if (missing.length === 0) return;
    if (this.init.extremities.length === 0) {
      // A brand-new room has no stored state to load.
      for (const [t, k] of missing) this.loaded.set(stateKey(t, k), NONE);
      return;
    }
    const found = await this.init.loadState(missing);
    for (const [t, k] of missing) {
      const sk = stateKey(t, k);
      this.loaded.set(sk, found.get(sk) ?? NONE);
    }
  }

  /** The draft's current state entry (call `load` first for keys not appended in this draft). */
  peek(type: string, key: string): EventView | undefined {
    const sk = stateKey(type, key);
    const own = this.overlay.get(sk);
    if (own) return own;
    const l = this.loaded.get(sk);
    return l === undefined || l === NONE ? undefined : l;
  }

  async get(type: string, key: string): Promise<EventView | undefined> {
    await this.load([[type, key]]);
    return this.peek(type, key);
  }

  /** Record what the store holds for these transactions (read once for the batch). */
  preloadTxns(looked: readonly TxnKey[], found: ReadonlyMap<string, string>): void {
    for (const t of looked) this.storedTxns.set(txnKeyOf(t), found.get(txnKeyOf(t)) ?? null);
  }

  /**
   * The event a client transaction already produced: drafted in this batch, preloaded for it, or
   * (not preloaded) what `read` finds in the store.
   */
  async txnEvent(txn: TxnKey, read: () => Promise<string | undefined>): Promise<string | undefined> {
    const key = txnKeyOf(txn);
    const drafted = this.txns.get(key);
    if (drafted !== undefined) return drafted;
    const stored = this.storedTxns.get(key);
    return stored === undefined ? read() : (stored ?? undefined);
  }

  checkpoint(): number {
    return this.undo.length;
  }

  rollback(mark: number): void {
    while (this.undo.length > mark) (this.undo.pop() as () => void)();
  }

  /** Build, sign and auth-check the next event of the chain; throws a MatrixError if refused. */
  async append(spec: AppendSpec): Promise<AppendedEvent> {
    const rv = this.roomVersion;
    if (hasNul(spec.type) || (spec.stateKey !== undefined && hasNul(spec.stateKey))) {
      throw errors.invalidParam('Event types and state keys cannot contain NUL characters');
    }
    if (rv.strictCanonicalJson && !isCanonicalJsonValue(spec.content)) {
      throw errors.badJson('Event content must be canonical JSON: no floats, integers within ±(2^53 − 1)');
    }
    const shape = { type: spec.type, sender: spec.sender, content: spec.content, ...(spec.stateKey !== undefined ? { state_key: spec.stateKey } : {}) };
    const authKeys = authEventTypesFor(rv, shape);
    await this.load([['m.room.create', ''], ...authKeys]);
    const authEvents = authKeys.flatMap(([t, k]) => this.peek(t, k)?.event_id ?? []);
    const prev = [...this.extremities].sort((a, b) => b.depth - a.depth).slice(0, MAX_LOCAL_PREV_EVENTS);
    const depth = prev.length === 0 ? 1 : Math.max(...prev.map((p) => p.depth)) + 1;
    // Timestamps never go backwards along the chain, even if the clock does.
    const ts = Math.max(this.init.clock(), this.lastTs);
    let built;
    try {
      built = buildEvent({
        roomVersion: rv,
        ...(this.roomIdValue !== undefined ? { roomId: this.roomIdValue } : {}),
        sender: spec.sender,
        type: spec.type,
        ...(spec.stateKey !== undefined ? { stateKey: spec.stateKey } : {}),
        content: spec.content,
        prevEvents: prev.map((p) => p.eventId),
        authEvents,
        depth,
        originServerTs: ts,
        serverName: this.init.serverName,
        keyId: this.init.serverKey.keyId,
        secretKey: this.init.serverKey.secretKey,
        ...(spec.redacts !== undefined ? { redacts: spec.redacts } : {}),
      });
    } catch (e) {
      throw errors.badJson(`Cannot build the event: ${(e as Error).message}`);
    }
    const outcome = checkLocalEvent(built.pdu, rv, (t, k) => this.peek(t, k));
    if (outcome.outcome === 'dropped') {
      if (/^(too_large|field_too_long)\b/.test(outcome.reason)) throw new MatrixError(413, 'M_TOO_LARGE', `Event is too large: ${outcome.reason}`);
      throw errors.badJson(`Invalid event: ${outcome.reason}`);
    }
    if (outcome.outcome === 'rejected') throw errors.forbidden(outcome.reason);

    // Apply, recording how to undo.
    const view = outcome.event;
    const prevRoomId = this.roomIdValue;
    const prevExtremities = this.extremities;
    const prevTs = this.lastTs;
    this.roomIdValue = built.roomId;
    this.extremities = [...this.extremities.filter((e) => !prev.some((p) => p.eventId === e.eventId)), { eventId: built.eventId, depth }];
    this.lastTs = ts;
    if (spec.stateKey !== undefined) {
      const sk = stateKey(spec.type, spec.stateKey);
      const had = this.overlay.get(sk);
      this.overlay.set(sk, view);
      this.undo.push(() => (had ? this.overlay.set(sk, had) : this.overlay.delete(sk)));
    }
    let txnKey: string | undefined;
    if (spec.txn) {
      txnKey = txnKeyOf(spec.txn);
      this.txns.set(txnKey, built.eventId);
    }
    this.items.push({
      pdu: built.pdu,
      eventId: built.eventId,
      roomId: built.roomId,
      roomVersion: rv.id,
      requireExtremities: prevExtremities.map((e) => e.eventId),
      ...(spec.txn ? { txn: spec.txn } : {}),
      ...(spec.applyRedaction === false ? { applyRedaction: false } : {}),
    });
    this.undo.push(() => {
      this.items.pop();
      if (txnKey !== undefined) this.txns.delete(txnKey);
      this.roomIdValue = prevRoomId;
      this.extremities = prevExtremities;
      this.lastTs = prevTs;
    });
    return { eventId: built.eventId, pdu: built.pdu, view };
  }
}
