/**
 * The `presence` stream's writer. Like Synapse, it keeps every non-offline user's presence in memory
 * (reloaded from Postgres at start), drives the idle and offline timeouts from one timer wheel, and
 * persists + announces only changes clients should see (`shouldNotify`); other timestamp changes are
 * saved lazily. Other processes read presence from Postgres (`presence-store.ts`) and send their
 * writes here through the `PresenceController` interface.
 */
import type { Logger, NotifyFn } from '@hs/core';
import { silentLogger } from '@hs/core';
import type { Sql, StreamWriter } from '@hs/storage';
import {
  DEFAULT_PRESENCE_TIMINGS,
  applyLocalTimeout,
  applyRemoteTimeout,
  defaultPresence,
  localDeadlines,
  shouldNotify,
  withCurrentActivity,
  type PresenceTimings,
  type PresenceValue,
  type UserPresence,
} from './presence-state.ts';
import { getPresence, loadActivePresence, persistPresence, saveUnannounced } from './presence-store.ts';
import { LOCAL_INSTANCE, PRESENCE_SYNC_HEARTBEAT_MS, PRESENCE_SYNC_INSTANCE_TIMEOUT_MS, SyncingUsers } from './presence-syncing.ts';
import { TimerWheel, systemClock, type Clock } from './timer-wheel.ts';

/**
 * What endpoints and /sync need from presence: the writer's `PresenceHandler`, or on other processes a
 * `ReplicatedPresence` forwarding to it. Writes answer the presence stream position they were
 * announced at, or null when clients have nothing new to see.
 */
export interface PresenceController {
  /** PUT /presence/{userId}/status. */
  setState(userId: string, state: PresenceValue, statusMsg?: string | null): Promise<number | null>;
  /** /sync's `set_presence` for a request that is starting (no-op for `offline`). */
  setFromSync(userId: string, state: PresenceValue): Promise<number | null>;
  /**
   * A /sync request is running for `userId`: they cannot time out to offline until the returned
   * function is called at its end. Also applies `setPresence` like `setFromSync`.
   */
  userSyncing(userId: string, setPresence?: PresenceValue): Promise<() => void>;
  /** The user did something pro-active (sent a message, a receipt, typed). */
  bumpActive(userId: string): Promise<number | null>;
}

export interface PresenceHandlerOptions {
  sql: Sql;
  /** The `presence` StreamWriter of this process. */
  stream: StreamWriter;
  notify: NotifyFn;
  serverName: string;
  /** `presence.enabled` from config: when false, nothing is tracked or sent. */
  enabled: boolean;
  log?: Logger;
  clock?: Clock;
  timings?: Partial<PresenceTimings>;
  /** Wheel granularity and tick period (default 5 s). */
  tickMs?: number;
  /** Start the periodic tick (default true); tests call `tick()` themselves. */
  autoTick?: boolean;
  /** How often unannounced timestamp changes are saved (default 60 s). */
  saveEveryMs?: number;
  /** Delay before the first timeout tick after start (default 35 s); see the constructor. */
  startGraceMs?: number;
  /** A worker not heard from for this long is taken to be gone, its syncs ended (default 65 s). */
  syncInstanceTimeoutMs?: number;
}

export class PresenceHandler implements PresenceController {
  readonly enabled: boolean;
  private readonly sql: Sql;
  private readonly stream: StreamWriter;
  private readonly notify: NotifyFn;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly timings: PresenceTimings;
  private readonly serverSuffix: string;
  private readonly states = new Map<string, UserPresence>();
  private readonly syncing = new SyncingUsers();
  private readonly syncInstanceTimeoutMs: number;
  private readonly wheel: TimerWheel<string>;
  private readonly unannounced = new Set<string>();
  private chain: Promise<unknown> = Promise.resolve();
  private timers: NodeJS.Timeout[] = [];

  private constructor(opts: PresenceHandlerOptions) {
    this.enabled = opts.enabled;
    this.sql = opts.sql;
    this.stream = opts.stream;
    this.notify = opts.notify;
    this.log = opts.log ?? silentLogger;
    this.clock = opts.clock ?? systemClock;
    this.timings = { ...DEFAULT_PRESENCE_TIMINGS, ...opts.timings };
    this.serverSuffix = `:${opts.serverName}`;
    this.wheel = new TimerWheel(opts.tickMs ?? 5000);
    this.syncInstanceTimeoutMs = opts.syncInstanceTimeoutMs ?? PRESENCE_SYNC_INSTANCE_TIMEOUT_MS;
    if (opts.autoTick !== false && this.enabled) {
      const tickMs = opts.tickMs ?? 5000;
      const save = setInterval(() => void this.saveUnannounced().catch((e) => this.log.warn('saving presence failed', { error: String(e) })), opts.saveEveryMs ?? 60_000);
      // As Synapse does, timeouts start only after a grace period, so users syncing through workers
      // (or reconnecting clients) are heard from again before anyone is timed out to offline.
      const grace = setTimeout(() => {
        const tick = setInterval(() => void this.tick().catch((e) => this.log.error('presence timeouts failed', { error: String(e) })), tickMs);
        tick.unref();
        this.timers.push(tick);
      }, opts.startGraceMs ?? PRESENCE_SYNC_HEARTBEAT_MS + 5_000);
      grace.unref();
      save.unref();
      this.timers = [grace, save];
    }
  }

  /** Load everyone who was not offline and resume their timers (they go offline unless they sync). */
  static async start(opts: PresenceHandlerOptions): Promise<PresenceHandler> {
    const handler = new PresenceHandler(opts);
    if (handler.enabled) {
      const now = handler.clock();
      for (const s of await loadActivePresence(opts.sql)) {
        handler.states.set(s.userId, s);
        if (handler.isMine(s.userId)) for (const at of localDeadlines(s, handler.timings)) handler.wheel.insert(now, s.userId, at);
        else handler.wheel.insert(now, s.userId, s.lastFederationUpdateTs + handler.timings.federationTimeoutMs + 1);
      }
    }
    return handler;
  }

  private isMine(userId: string): boolean {
    return userId.endsWith(this.serverSuffix);
  }

  /** The in-memory state (offline default for users not seen since start). */
  current(userId: string): UserPresence {
    return this.states.get(userId) ?? defaultPresence(userId);
  }

  /** Whether a /sync of `userId` is running here or on a worker that reported it. */
  isSyncing(userId: string): boolean {
    return this.syncing.isSyncing(userId);
  }

  /** The state to build a change on: memory, else what Postgres last recorded (status kept over restarts). */
  private async load(userId: string): Promise<UserPresence> {
    const known = this.states.get(userId);
    if (known) return known;
    const stored = (await getPresence(this.sql, userId)) ?? defaultPresence(userId);
    // Another change may have landed while we read; memory wins.
    const now = this.states.get(userId);
    if (now) return now;
    this.states.set(userId, stored);
    return stored;
  }

  async setState(userId: string, state: PresenceValue, statusMsg: string | null = null): Promise<number | null> {
    if (!this.enabled) return null;
    const prev = await this.load(userId);
    const now = this.clock();
    const next: UserPresence = { ...prev, state, statusMsg, ...(state === 'online' ? { lastActiveTs: now } : {}) };
    return this.update([next]);
  }

  async setFromSync(userId: string, state: PresenceValue): Promise<number | null> {
    if (!this.enabled || state === 'offline') return null;
    const prev = await this.load(userId);
    const now = this.clock();
    let next: UserPresence = { ...prev, lastUserSyncTs: now };
    // Connecting brings an offline user online; an idle (unavailable) user stays idle until they act.
    if (state === 'online' && prev.state === 'offline') next = { ...next, state: 'online', lastActiveTs: now };
    if (state === 'unavailable') next = { ...next, state: 'unavailable' };
    return this.update([next]);
  }

  async userSyncing(userId: string, setPresence: PresenceValue = 'online'): Promise<() => void> {
    if (!this.enabled || setPresence === 'offline') return () => {};
    this.syncing.add(LOCAL_INSTANCE, userId);
    try {
      await this.setFromSync(userId, setPresence);
    } catch (e) {
      this.endSync(LOCAL_INSTANCE, userId);
      throw e;
    }
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.endSync(LOCAL_INSTANCE, userId);
    };
  }

  private endSync(instance: string, userId: string): void {
    if (!this.syncing.remove(instance, userId)) return;
    void this.syncEnded([userId], this.clock()).catch((e) => this.log.warn('presence update after sync failed', { error: String(e) }));
  }

  /** Users stopped syncing everywhere at `at`: their offline timeout counts from then. */
  private async syncEnded(userIds: readonly string[], at: number): Promise<number | null> {
    const changes: UserPresence[] = [];
    for (const userId of userIds) {
      const prev = this.states.get(userId);
      if (prev) changes.push({ ...prev, lastUserSyncTs: Math.max(prev.lastUserSyncTs, at) });
    }
    return this.update(changes);
  }

  /**
   * Worker `instance` reports that `userId` started (`setPresence` applied as by `setFromSync`) or
   * stopped syncing there. Only local users are tracked.
   */
  async userSyncOnInstance(instance: string, userId: string, syncing: boolean, setPresence: PresenceValue = 'online'): Promise<number | null> {
    if (!this.enabled || instance === LOCAL_INSTANCE) return null;
    this.syncing.heard(instance, this.clock());
    if (!this.isMine(userId)) return null;
    if (!syncing) return this.syncing.remove(instance, userId, true) ? this.syncEnded([userId], this.clock()) : null;
    if (setPresence === 'offline') return null;
    if (!this.syncing.has(instance, userId)) this.syncing.add(instance, userId);
    return this.setFromSync(userId, setPresence);
  }

  /**
   * Worker `instance`'s heartbeat: exactly these users (with their `set_presence`) sync there now.
   * Repairs lost start/end reports and restores what a restart of this writer forgot.
   */
  async syncingOnInstance(instance: string, users: ReadonlyMap<string, PresenceValue>): Promise<number | null> {
    if (!this.enabled || instance === LOCAL_INSTANCE) return null;
    const now = this.clock();
    this.syncing.heard(instance, now);
    const tracked = new Set([...users].filter(([u, p]) => this.isMine(u) && p !== 'offline').map(([u]) => u));
    const { started, stopped } = this.syncing.replace(instance, tracked);
    let position = await this.syncEnded(stopped, now);
    for (const userId of started) position = maxPosition(position, await this.setFromSync(userId, users.get(userId) ?? 'online'));
    return position;
  }

  async bumpActive(userId: string): Promise<number | null> {
    if (!this.enabled) return null;
    const prev = await this.load(userId);
    return this.update([{ ...prev, lastActiveTs: this.clock(), ...(prev.state === 'unavailable' ? { state: 'online' as const } : {}) }]);
  }

  /** A presence update from `userId`'s server (federation EDU). */
  async applyRemote(userId: string, state: PresenceValue, statusMsg: string | null, lastActiveAgo: number | undefined, currentlyActive: boolean): Promise<number | null> {
    if (!this.enabled || this.isMine(userId)) return null;
    const prev = await this.load(userId);
    const now = this.clock();
    const lastActiveTs = lastActiveAgo !== undefined ? now - lastActiveAgo : prev.lastActiveTs;
    return this.update([{ ...prev, state, statusMsg, lastActiveTs, currentlyActive, lastFederationUpdateTs: now }]);
  }

  /** Run due timers: workers gone quiet, idle → unavailable, not syncing → offline, end of "currently active". */
  async tick(): Promise<void> {
    if (!this.enabled) return;
    const now = this.clock();
    // A gone worker's users were last known to sync when it was last heard from; their deadlines,
    // re-armed from then, come out of the wheel below.
    for (const gone of this.syncing.expire(now, this.syncInstanceTimeoutMs)) {
      this.log.info('presence: worker not heard from, ending its syncs', { instance: gone.instance, users: gone.stopped.length });
      await this.syncEnded(gone.stopped, gone.lastHeard);
    }
    const changes: UserPresence[] = [];
    for (const userId of this.wheel.fetch(now)) {
      const s = this.states.get(userId);
      if (!s) continue;
      const next = this.isMine(userId)
        ? applyLocalTimeout(s, now, this.syncing.isSyncing(userId), this.timings)
        : applyRemoteTimeout(s, now, this.timings);
      if (next) changes.push(next);
      else if (this.isMine(userId)) for (const at of localDeadlines(s, this.timings)) if (at > now) this.wheel.insert(now, userId, at);
    }
    await this.update(changes);
  }

  /**
   * Apply new states: recompute activity, re-arm timers, keep them in memory, and persist + announce
   * those clients should see. Persisting runs in one queue so stream IDs follow the order of changes.
   */
  private async update(newStates: readonly UserPresence[]): Promise<number | null> {
    if (newStates.length === 0) return null;
    const now = this.clock();
    const announce: string[] = [];
    for (const raw of newStates) {
      const prev = this.current(raw.userId);
      const mine = this.isMine(raw.userId);
      const next = mine ? withCurrentActivity(raw, now, this.timings) : raw;
      if (mine) for (const at of localDeadlines(next, this.timings)) this.wheel.insert(now, next.userId, at);
      else if (next.state !== 'offline') this.wheel.insert(now, next.userId, next.lastFederationUpdateTs + this.timings.federationTimeoutMs + 1);
      this.states.set(next.userId, next);
      if (shouldNotify(prev, next, this.timings)) {
        announce.push(next.userId);
        this.unannounced.delete(next.userId);
      } else if (prev !== next) {
        this.unannounced.add(next.userId);
      }
    }
    if (announce.length === 0) return null;
    const toWrite = announce.map((u) => this.current(u));
    const run = this.chain.then(() =>
      persistPresence(this.sql, this.stream, toWrite, (position) => this.notify({ stream: 'presence', position, users: toWrite.map((s) => s.userId) })),
    );
    this.chain = run.catch(() => {});
    return run;
  }

  /** Save timestamps changed since the last announcement (called periodically and at shutdown). */
  async saveUnannounced(): Promise<void> {
    if (this.unannounced.size === 0) return;
    const states = [...this.unannounced].map((u) => this.current(u));
    this.unannounced.clear();
    const run = this.chain.then(() => saveUnannounced(this.sql, states));
    this.chain = run.catch(() => {});
    await run;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.saveUnannounced().catch((e) => this.log.warn('saving presence at shutdown failed', { error: String(e) }));
    await this.chain;
  }
}

function maxPosition(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.max(a, b);
}
