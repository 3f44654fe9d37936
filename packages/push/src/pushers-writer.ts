/**
 * Changing pushers. Every change is one transaction under one ID of the `pushers` stream: the
 * changed pusher rows carry it as `stream_id`, removals append `deleted_pushers` rows with it. Then
 * `{ stream: 'pushers' }` is notified for the users affected, so the pusher worker can pick changes
 * up. Behind `PushersWriter` so a process that does not write the stream can forward the calls.
 */
import type { JsonObject, Logger, NotifyFn } from '@hs/core';
import type { Sql, StreamWriter, TransactionSql } from '@hs/storage';

export interface NewPusher {
  readonly userId: string;
  readonly appId: string;
  readonly pushkey: string;
  readonly kind: string;
  readonly appDisplayName: string;
  readonly deviceDisplayName: string;
  readonly profileTag?: string;
  readonly lang: string;
  readonly data: JsonObject;
  /** The device and access token setting it; an existing pusher keeps its own (Synapse's rule). */
  readonly deviceId?: string;
  readonly accessTokenId?: number;
}

export interface PushersWriter {
  /**
   * Add the pusher, or update the user's pusher with its app ID and pushkey. Unless `append`, other
   * users' pushers with the same app ID and pushkey are removed. Resolves to the stream position.
   */
  setPusher(pusher: NewPusher, opts: { readonly append: boolean }): Promise<number>;
  /** Resolves to the stream position, or null if the user had no such pusher. */
  removePusher(userId: string, appId: string, pushkey: string): Promise<number | null>;
  /** The pushers set from these devices (on logout or device deletion); null if there were none. */
  removePushersForDevices(userId: string, deviceIds: readonly string[]): Promise<number | null>;
}

export interface LocalPushersWriterDeps {
  readonly sql: Sql;
  readonly writer: StreamWriter;
  readonly notify: NotifyFn;
  readonly log: Logger;
  readonly clock?: () => number;
}

interface Key {
  user_id: string;
  app_id: string;
  pushkey: string;
}

async function recordRemovals(tx: TransactionSql, streamId: number, removed: readonly Key[]): Promise<void> {
  if (removed.length === 0) return;
  await tx`INSERT INTO deleted_pushers ${tx(removed.map((r) => ({ stream_id: streamId, user_id: r.user_id, app_id: r.app_id, pushkey: r.pushkey })))}`;
}

export function createLocalPushersWriter(deps: LocalPushersWriterDeps): PushersWriter {
  const { sql, writer, notify, log } = deps;
  const clock = deps.clock ?? Date.now;

  function announce(position: number, users: Iterable<string>): void {
    try {
      notify({ stream: 'pushers', position, users: [...new Set(users)] });
    } catch (e) {
      log.error('pushers notifier failed', { error: String(e) });
    }
  }

  async function remove(where: (tx: TransactionSql) => Promise<Key[]>): Promise<number | null> {
    const { id, removed } = await writer.withIds(1, async ([id]) => {
      const removed: Key[] = await sql.begin(async (tx): Promise<Key[]> => {
        const rows = await where(tx);
        await recordRemovals(tx, id as number, rows);
        return rows;
      });
      // After the commit, before the ID is released: the change is announced with the ID.
      if (removed.length > 0) announce(id as number, removed.map((r) => r.user_id));
      return { id: id as number, removed };
    });
    if (removed.length === 0) return null;
    log.debug('pushers removed', { count: removed.length, position: id });
    return id;
  }

  return {
    async setPusher(p, opts) {
      const { id, removed } = await writer.withIds(1, async ([id]) => {
        const removed: Key[] = await sql.begin(async (tx): Promise<Key[]> => {
          const others = opts.append
            ? []
            : await tx<Key[]>`
                DELETE FROM pushers WHERE app_id = ${p.appId} AND pushkey = ${p.pushkey} AND user_id <> ${p.userId}
                RETURNING user_id, app_id, pushkey`;
          await recordRemovals(tx, id as number, others);
          // A new pusher starts at the newest event: it only pushes what arrives from now on.
          await tx`
            INSERT INTO pushers (user_id, app_id, pushkey, kind, app_display_name, device_display_name, profile_tag, lang, data,
                                 device_id, access_token_id, created_ts, enabled, last_stream_ordering, stream_id)
            VALUES (${p.userId}, ${p.appId}, ${p.pushkey}, ${p.kind}, ${p.appDisplayName}, ${p.deviceDisplayName},
                    ${p.profileTag ?? null}, ${p.lang}, ${JSON.stringify(p.data)}::text::json, ${p.deviceId ?? null},
                    ${p.accessTokenId ?? null}, ${clock()}, true,
                    (SELECT coalesce(max(stream_ordering), 0) FROM events), ${id as number})
            ON CONFLICT (user_id, app_id, pushkey) DO UPDATE SET
              kind = EXCLUDED.kind, app_display_name = EXCLUDED.app_display_name,
              device_display_name = EXCLUDED.device_display_name, profile_tag = EXCLUDED.profile_tag,
              lang = EXCLUDED.lang, data = EXCLUDED.data, enabled = true,
              last_stream_ordering = EXCLUDED.last_stream_ordering, stream_id = EXCLUDED.stream_id`;
          return others;
        });
        announce(id as number, [p.userId, ...removed.map((r) => r.user_id)]);
        return { id: id as number, removed };
      });
      log.debug('pusher set', { app_id: p.appId, position: id, removed_for_others: removed.length });
      return id;
    },

    removePusher(userId, appId, pushkey) {
      return remove(
        (tx) => tx<Key[]>`
          DELETE FROM pushers WHERE user_id = ${userId} AND app_id = ${appId} AND pushkey = ${pushkey}
          RETURNING user_id, app_id, pushkey`,
      );
    },

    removePushersForDevices(userId, deviceIds) {
      if (deviceIds.length === 0) return Promise.resolve(null);
      return remove(
        (tx) => tx<Key[]>`
          DELETE FROM pushers WHERE user_id = ${userId} AND device_id = ANY(${deviceIds as string[]})
          RETURNING user_id, app_id, pushkey`,
      );
    },
  };
}
