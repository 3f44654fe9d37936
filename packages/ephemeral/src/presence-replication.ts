/**
 * Presence between processes. The presence writer's `PresenceHandler` keeps presence and its timers in
 * memory; other processes use a `ReplicatedPresence`, which forwards every write to it over HTTP
 * replication and reports who is syncing there (Synapse's USER_SYNC):
 *  - each /sync start sends `presence_user_sync` `start` (applying `set_presence`); once a user's last
 *    sync on this worker has been over for `endDelayMs` (so back-to-back long-polls do not flap), `end`;
 *  - every `heartbeatMs` while users sync here, `presence_user_sync_heartbeat` lists them all, which
 *    repairs lost reports and restores a restarted writer's memory. A worker that stops sending them
 *    (it died) has its users' syncs ended by the writer after two missed beats.
 * Reads (GET /presence, /sync) come from Postgres on every process.
 */
import { errors, type JsonObject, type Logger } from '@hs/core';
import { silentLogger } from '@hs/core';
import { forwardWrite, nonEmptyTextField, nullableField, objectField, registerWriteEndpoint, textField, userIdField, type Fields, type ReplicatedWriterOptions, type ReplicationEndpointRegistry } from '@hs/replication';
import { KeyedLock } from './keyed-lock.ts';
import { presenceField } from './presence-field.ts';
import type { PresenceController, PresenceHandler } from './presence-handler.ts';
import type { PresenceValue } from './presence-state.ts';
import { PRESENCE_SYNC_HEARTBEAT_MS } from './presence-syncing.ts';

const STREAM = 'presence';

function syncStateField(b: Fields): 'start' | 'end' {
  const v = b.state;
  if (v !== 'start' && v !== 'end') throw errors.badJson('state must be start or end');
  return v;
}

/** A status message, possibly empty; null or absent clears it. */
function statusMsgField(b: Fields): string | null {
  return b.status_msg === undefined ? null : nullableField(b, 'status_msg', textField);
}

/** Instance names are config keys; bound them so a heartbeat cannot grow the writer's maps unboundedly. */
function instanceField(b: Fields): string {
  const v = nonEmptyTextField(b, 'instance');
  if (v.length > 200) throw errors.badJson('instance is too long');
  return v;
}

/**
 * On the presence writer, each answering `{position}` (null when clients have nothing new to see):
 *   `presence_set_state` `{user_id, state, status_msg}`, `presence_set_from_sync` `{user_id, state}`,
 *   `presence_bump_active` `{user_id}`,
 *   `presence_user_sync` `{instance, user_id, state: 'start'|'end', set_presence}`,
 *   `presence_user_sync_heartbeat` `{instance, syncing: {user_id: set_presence}}`.
 */
export function registerPresenceReplicationEndpoints(server: ReplicationEndpointRegistry, local: PresenceHandler): void {
  registerWriteEndpoint(server, 'presence_set_state', (b) => local.setState(userIdField(b, 'user_id'), presenceField(b, 'state'), statusMsgField(b)));
  registerWriteEndpoint(server, 'presence_set_from_sync', (b) => local.setFromSync(userIdField(b, 'user_id'), presenceField(b, 'state')));
  registerWriteEndpoint(server, 'presence_bump_active', (b) => local.bumpActive(userIdField(b, 'user_id')));
  registerWriteEndpoint(server, 'presence_user_sync', (b) => {
    const instance = instanceField(b);
    const userId = userIdField(b, 'user_id');
    const syncing = syncStateField(b) === 'start';
    const setPresence = b.set_presence === undefined ? 'online' : presenceField(b, 'set_presence');
    return local.userSyncOnInstance(instance, userId, syncing, setPresence);
  });
  registerWriteEndpoint(server, 'presence_user_sync_heartbeat', (b) => {
    const instance = instanceField(b);
    const listed = objectField(b, 'syncing');
    const users = new Map<string, PresenceValue>();
    for (const userId of Object.keys(listed)) {
      users.set(userIdField({ user_id: userId }, 'user_id'), presenceField(listed, userId));
    }
    return local.syncingOnInstance(instance, users);
  });
}

export interface ReplicatedPresenceOptions extends ReplicatedWriterOptions {
  /** This process's instance name: the writer counts syncing users per instance. */
  readonly instanceName: string;
  /** `presence.enabled` from config; when false nothing is sent (default true). */
  readonly enabled?: boolean;
  readonly log?: Logger;
  /** Default 30 s; the writer's instance timeout must exceed two of these. */
  readonly heartbeatMs?: number;
  /** How long after a user's last sync here ends the writer is told (default 10 s, Synapse's). */
  readonly endDelayMs?: number;
}

interface LocalSyncs {
  count: number;
  setPresence: PresenceValue;
  /** Pending `end` report, while the last sync has ended but not for `endDelayMs` yet. */
  endTimer?: NodeJS.Timeout;
}

/** A `PresenceController` for processes that are not the presence writer. */
export class ReplicatedPresence implements PresenceController {
  private readonly opts: ReplicatedPresenceOptions;
  private readonly enabled: boolean;
  private readonly log: Logger;
  private readonly syncs = new Map<string, LocalSyncs>();
  /** Keeps each user's start/end reports in order. */
  private readonly perUser = new KeyedLock();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  /** Whether the writer may hold something other than `syncs` (a report failed, or the last heartbeat listed users). */
  private dirty = true;
  private closed = false;
  private inFlight: Promise<void> | undefined;

  constructor(opts: ReplicatedPresenceOptions) {
    this.opts = opts;
    this.enabled = opts.enabled ?? true;
    this.log = opts.log ?? silentLogger;
  }

  /** Starts the heartbeats; the first one at once clears what an earlier run of this worker left behind. */
  start(): void {
    if (!this.enabled || this.heartbeatTimer || this.closed) return;
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.opts.heartbeatMs ?? PRESENCE_SYNC_HEARTBEAT_MS);
    this.heartbeatTimer.unref();
    void this.heartbeat();
  }

  async setState(userId: string, state: PresenceValue, statusMsg: string | null = null): Promise<number | null> {
    if (!this.enabled) return null;
    return forwardWrite(this.opts, STREAM, 'presence_set_state', { user_id: userId, state, status_msg: statusMsg });
  }

  async setFromSync(userId: string, state: PresenceValue): Promise<number | null> {
    if (!this.enabled || state === 'offline') return null;
    return forwardWrite(this.opts, STREAM, 'presence_set_from_sync', { user_id: userId, state });
  }

  async bumpActive(userId: string): Promise<number | null> {
    if (!this.enabled) return null;
    return forwardWrite(this.opts, STREAM, 'presence_bump_active', { user_id: userId });
  }

  /**
   * Counts the sync here and tells the writer it started (applying `setPresence`). If the writer cannot
   * be reached, the sync still counts and the next heartbeat tells it; this never fails the sync.
   */
  async userSyncing(userId: string, setPresence: PresenceValue = 'online'): Promise<() => void> {
    if (!this.enabled || setPresence === 'offline' || this.closed) return () => {};
    let entry = this.syncs.get(userId);
    if (!entry) this.syncs.set(userId, (entry = { count: 0, setPresence }));
    entry.count += 1;
    entry.setPresence = setPresence;
    if (entry.endTimer) clearTimeout(entry.endTimer);
    delete entry.endTimer;
    try {
      await this.perUser.run(userId, () =>
        forwardWrite(this.opts, STREAM, 'presence_user_sync', { instance: this.opts.instanceName, user_id: userId, state: 'start', set_presence: setPresence }),
      );
    } catch (e) {
      this.dirty = true;
      this.log.warn('presence: could not report a sync to the presence writer', { user_id: userId, error: String(e) });
    }
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.syncEnded(userId);
    };
  }

  private syncEnded(userId: string): void {
    const entry = this.syncs.get(userId);
    if (!entry) return;
    entry.count -= 1;
    if (entry.count > 0) return;
    const report = () => {
      if (entry.count > 0 || this.syncs.get(userId) !== entry) return;
      this.syncs.delete(userId);
      void this.perUser
        .run(userId, () => forwardWrite(this.opts, STREAM, 'presence_user_sync', { instance: this.opts.instanceName, user_id: userId, state: 'end' }))
        .catch((e: unknown) => {
          this.dirty = true;
          this.log.warn('presence: could not report the end of a sync', { user_id: userId, error: String(e) });
        });
    };
    const delay = this.opts.endDelayMs ?? 10_000;
    if (delay <= 0 || this.closed) return report();
    entry.endTimer = setTimeout(report, delay);
    entry.endTimer.unref();
  }

  /** Tells the writer everyone syncing here now (also callable when the bus reconnects). Never throws. */
  async heartbeat(): Promise<void> {
    if (!this.enabled) return;
    // One at a time: a heartbeat asked for while one is on its way decides after it has landed.
    while (this.inFlight) await this.inFlight;
    const run = this.sendHeartbeat();
    this.inFlight = run;
    try {
      await run;
    } finally {
      if (this.inFlight === run) this.inFlight = undefined;
    }
  }

  private async sendHeartbeat(): Promise<void> {
    const syncing: JsonObject = {};
    for (const [userId, entry] of this.syncs) syncing[userId] = entry.setPresence;
    const listed = Object.keys(syncing).length > 0;
    // Nothing syncing here and the writer already knows it: stay quiet.
    if (!listed && !this.dirty) return;
    try {
      await forwardWrite(this.opts, STREAM, 'presence_user_sync_heartbeat', { instance: this.opts.instanceName, syncing });
      this.dirty = listed;
    } catch (e) {
      this.dirty = true;
      this.log.warn('presence: heartbeat to the presence writer failed', { error: String(e) });
    }
  }

  /** Stops the heartbeats and tells the writer nobody syncs here any more (best effort). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
    for (const entry of this.syncs.values()) if (entry.endTimer) clearTimeout(entry.endTimer);
    if (this.syncs.size > 0) this.dirty = true;
    this.syncs.clear();
    await this.heartbeat();
  }
}

