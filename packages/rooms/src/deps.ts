import type { Logger, NotifyFn } from '@hs/core';
import type { Sql, StreamWriter } from '@hs/storage';
import type { DerivedWrites, EventPersister, NewlyPersistedEvent } from './persister.ts';

/** The server's event signing key. */
export interface ServerKey {
  /** `ed25519:<version>`. */
  readonly keyId: string;
  /** 32-byte seed or 64-byte libsodium secret key. */
  readonly secretKey: Uint8Array;
}

/** What a membership event carries about the user (from the accounts domain). */
export interface MemberProfile {
  readonly displayname?: string | null;
  readonly avatar_url?: string | null;
}

export interface RoomsDeps {
  readonly sql: Sql;
  readonly serverName: string;
  readonly log: Logger;
  readonly notify: NotifyFn;
  readonly serverKey: ServerKey;
  /** This process's writer for the `events` stream (the local persister); required unless `persister` is given. */
  readonly eventsWriter?: StreamWriter;
  /** The user's global profile, for join/invite/knock events; undefined fields are left out. */
  getProfile(userId: string): Promise<MemberProfile>;
  /** Runs after each commit of the local persister, before its notify (push actions, counts). */
  readonly onPersisted?: (events: readonly NewlyPersistedEvent[]) => Promise<void> | void;
  /** See `LocalPersisterOptions.deriveWithCommit`: the same derivation, committed with message-only batches. */
  readonly deriveWithCommit?: (events: readonly NewlyPersistedEvent[]) => Promise<DerivedWrites>;
  /** Swap in another persister (tests). Default: persist locally, routed by `routePersist` when given. */
  readonly persister?: EventPersister;
  /**
   * Wrap the local persister (undefined when this process writes no events) in one that sends rooms
   * this process does not persist to their writer (RoutedEventPersister).
   */
  readonly routePersist?: (local: EventPersister | undefined) => EventPersister;
  /** Room version for new rooms when the client names none. Default: the spec's recommendation. */
  readonly defaultRoomVersion?: string;
  /** State group delta chains are cut with a full snapshot after this many hops. Default 50. */
  readonly maxStateDeltaChain?: number;
  /** Budget of the per-process state group cache, in state entries. Default 200 000. */
  readonly stateCacheEntries?: number;
  /** Milliseconds since the epoch; tests may fix it. */
  readonly clock?: () => number;
}
