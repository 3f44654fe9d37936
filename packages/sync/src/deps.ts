import type { Logger, SyncToken } from '@hs/core';
import type { PresenceController, TypingReader } from '@hs/ephemeral';
import type { EventStore } from '@hs/rooms';
import type { Sql } from '@hs/storage';
import type { Notifier } from './notifier.ts';
import type { SyncChangeCaches } from './stream-change-cache.ts';

/** What /sync needs from its process. Everything is read from Postgres except typing (in memory on every process). */
export interface SyncDeps {
  readonly sql: Sql;
  readonly log: Logger;
  /** Wakes long-polls; the process's streams feed it (see `presenceAwareNotify`). */
  readonly notifier: Notifier;
  /**
   * The current position of every stream this process can read up to (writers' and followers' positions).
   * Taken before reading, so that nothing committed between the read and the token is skipped.
   */
  currentToken(): SyncToken;
  /** The rooms domain's reader. */
  readonly store: EventStore;
  /** The process's typing state (the writer's, or a follower fed by replication). */
  readonly typing: TypingReader;
  /** `set_presence` and "this user is syncing". */
  readonly presence: PresenceController;
  /**
   * Send `unread_notifications` (and `unread_thread_notifications`) in joined rooms, counted from the
   * push domain's push actions. Off, they are left out rather than invented.
   */
  readonly unreadCounts?: boolean;
  /** Synapse's `filter_timeline_limit`: the most timeline events per room a filter may ask for (default 100, -1 = no cap). */
  readonly filterTimelineLimit?: number;
  /** Send-to-device messages per response (the spec recommends 100). */
  readonly toDeviceLimit?: number;
  /** The push domain's `legacyMentionRules`, so `m.push_rules` here matches GET /pushrules. */
  readonly legacyMentionRules?: boolean;
  /** How long a request whose `since` is ahead of this process waits for replication to catch up (default 10 s). */
  readonly catchUpTimeoutMs?: number;
  /** Longest long-poll accepted; larger `timeout`s are clamped (default 10 minutes). */
  readonly maxTimeoutMs?: number;
  /**
   * What changed since a position, from memory, fed with every change this process applies. Lets an
   * incremental sync skip the queries whose answer it already knows; without it, Postgres is asked.
   */
  readonly changes?: SyncChangeCaches;
  readonly clock?: () => number;
}
