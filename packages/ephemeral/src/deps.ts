import type { JsonObject, Logger, NotifyFn } from '@hs/core';
import type { Sql, StreamWriter } from '@hs/storage';
import type { PresenceController } from './presence-handler.ts';
import type { ReceiptsWriter } from './receipts-store.ts';
import type { Clock } from './timer-wheel.ts';
import type { TypingWriter } from './typing-state.ts';

/** What the typing, receipts, read-marker and presence endpoints need from their process. */
export interface EphemeralDeps {
  readonly sql: Sql;
  readonly serverName: string;
  readonly log: Logger;
  readonly notify: NotifyFn;
  /** This process's `receipts` StreamWriter; a local ReceiptsWriter is built on it. */
  readonly receiptsStream?: StreamWriter;
  /** Or a ready ReceiptsWriter (e.g. one forwarding to the stream's writer); takes precedence. */
  readonly receiptsWriter?: ReceiptsWriter;
  /** Typing writes: the writer's `TypingState`, or a `ReplicatedTypingWriter` on other processes. */
  readonly typing: TypingWriter;
  /** Presence writes: the local PresenceHandler on the `presence` writer, or a forwarder. */
  readonly presence: PresenceController;
  /** `presence.enabled` from config. */
  readonly presenceEnabled: boolean;
  readonly clock?: Clock;

  // From the rooms domain.
  /** Whether `userId` is currently joined to `roomId`. */
  isJoined(roomId: string, userId: string): Promise<boolean>;
  /** Whether `userId` may see `eventId` of `roomId` (history visibility); false if unknown. */
  canSeeEvent(userId: string, roomId: string, eventId: string): Promise<boolean>;
  /** The event's stream ordering, or null when it is unknown or not in `roomId`. */
  getEventStreamOrdering(roomId: string, eventId: string): Promise<number | null>;
  /**
   * Whether `eventId` belongs to thread `threadId` for receipt purposes: the thread root itself, an
   * event in the thread, or one related to either; `main` means "not in any thread".
   */
  isEventInThread(roomId: string, eventId: string, threadId: string): Promise<boolean>;
  /** Whether two users share at least one joined room (presence visibility). */
  sharesRoomWith(userA: string, userB: string): Promise<boolean>;

  // From the account-data domain (the `m.fully_read` marker is room account data).
  getRoomAccountData(userId: string, roomId: string, type: string): Promise<JsonObject | null>;
  setRoomAccountData(userId: string, roomId: string, type: string, content: JsonObject): Promise<unknown>;
}
