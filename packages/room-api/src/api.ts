/** What every operation of this package shares within one process. */
import type { EventStore, RoomsService } from '@hs/rooms';
import type { Requester } from '@hs/http';
import type { Sql } from '@hs/storage';
import type { RoomApiDeps } from './deps.ts';
import type { RoomApiIndexer } from './indexer.ts';
import type { ServeContext } from './serve.ts';

export interface RoomApi {
  readonly deps: RoomApiDeps;
  readonly sql: Sql;
  readonly store: EventStore;
  readonly rooms: RoomsService;
  readonly indexer: RoomApiIndexer;
  readonly serverName: string;
  now(): number;
  /** The requester's ignore list (empty without the account-data hook). */
  ignoredBy(userId: string): Promise<ReadonlySet<string>>;
  /** How events are served to `r` now. */
  serving(r: Requester, ignored: ReadonlySet<string>): ServeContext;
}

const NOBODY: ReadonlySet<string> = new Set();

export function createRoomApi(deps: RoomApiDeps, indexer: RoomApiIndexer): RoomApi {
  const clock = deps.clock ?? Date.now;
  return {
    deps,
    sql: deps.sql,
    store: deps.rooms.store,
    rooms: deps.rooms,
    indexer,
    serverName: deps.serverName,
    now: clock,
    ignoredBy: (userId) => (deps.getIgnoredUsers ? deps.getIgnoredUsers(userId) : Promise.resolve(NOBODY)),
    serving: (r, ignored) => ({ store: deps.rooms.store, requester: r, now: clock(), ignored }),
  };
}
