import type { JsonObject, Logger, NotifyFn } from '@hs/core';
import type { Sql, StreamWriter } from '@hs/storage';
import type { AccountDataWriter } from './account-data-store.ts';
import type { CapabilityOptions } from './capabilities.ts';

/** What the account data, tags, filter, capabilities, OpenID and report endpoints need. */
export interface AccountDataDeps {
  readonly sql: Sql;
  readonly serverName: string;
  readonly log: Logger;
  readonly notify: NotifyFn;
  /** This process's `account_data` StreamWriter; a local AccountDataWriter is built on it. */
  readonly accountDataStream?: StreamWriter;
  /** Or a ready AccountDataWriter (e.g. one forwarding to the stream's writer); takes precedence. */
  readonly accountDataWriter?: AccountDataWriter;
  /** From config; anything left out takes the default (see DEFAULT_CAPABILITIES). */
  readonly capabilities?: Partial<CapabilityOptions>;
  /** Config `default_room_version` (overrides `capabilities.defaultRoomVersion`). */
  readonly defaultRoomVersion?: string;
  /** Lifetime of OpenID tokens (default one hour). */
  readonly openIdTokenLifetimeMs?: number;
  readonly clock?: () => number;

  // From the rooms domain.
  /** Whether `userId` may see `eventId` of `roomId`; false when unknown or in another room. */
  canSeeEvent(userId: string, roomId: string, eventId: string): Promise<boolean>;
  isJoined(roomId: string, userId: string): Promise<boolean>;
  /** Whether this server knows the room. */
  roomExists(roomId: string): Promise<boolean>;
  // From the accounts domain.
  /** Whether a local account with this ID exists. */
  userExists(userId: string): Promise<boolean>;
  // From the push domain (optional): GET account_data/m.push_rules answers the user's push rules.
  getPushRules?(userId: string): Promise<JsonObject>;
}
