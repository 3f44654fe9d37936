import type { Logger, NotifyFn } from '@hs/core';
import type { Authenticator } from '@hs/http';
import type { RoomsService } from '@hs/rooms';
import type { Sql } from '@hs/storage';
import type { RoomApiIndexer } from './indexer.ts';

/** What the room API needs from its process. */
export interface RoomApiDeps {
  readonly sql: Sql;
  readonly serverName: string;
  readonly log: Logger;
  /** Kept for symmetry with other domains; every event this package sends is notified by @hs/rooms. */
  readonly notify: NotifyFn;
  /** The process's rooms service (one per process: all event creation goes through its queues). */
  readonly rooms: RoomsService;
  /**
   * The `events` stream position this process may read up to: the events writer's `position` on
   * the writer, the replication follower's elsewhere. The indexer never reads past it, so it never
   * skips an event whose transaction is still in flight.
   */
  eventsPosition(): number;
  /** Users `userId` ignores (`m.ignored_user_list`, account-data domain). Default: nobody. */
  getIgnoredUsers?(userId: string): Promise<ReadonlySet<string>>;
  /** Share one indexer between handlers and the background duty; created from these deps if absent. */
  readonly indexer?: RoomApiIndexer;
  /**
   * Resolves access tokens for endpoints where signing in is optional (GET /room_summary). Without
   * it those endpoints answer every request as unauthenticated.
   */
  readonly authenticate?: Authenticator;
  /** Milliseconds since the epoch; tests may fix it. */
  readonly clock?: () => number;
}
