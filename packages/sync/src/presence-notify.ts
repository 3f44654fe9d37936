/**
 * Presence and device-list changes are announced per user, but long-polls listen on their own user and
 * their rooms. This wraps the notifier so that such a change also wakes the rooms the changed users are
 * joined to (what Synapse's presence and device handlers do when they notify), with one indexed query per
 * change.
 */
import type { Logger, NotifyFn } from '@hs/core';
import type { Sql } from '@hs/storage';
import type { Notifier } from './notifier.ts';

const ROOM_WIDE_USER_STREAMS = new Set(['presence', 'device_lists']);

export function presenceAwareNotify(notifier: Notifier, sql: Sql, log: Logger): NotifyFn {
  return (change) => {
    notifier.notify(change);
    if (!ROOM_WIDE_USER_STREAMS.has(change.stream) || change.rooms?.length || !change.users?.length) return;
    // Every process hears every change; one with no long-polls registered (an event persister) has nobody to wake.
    if (notifier.keyCount === 0) return;
    const users = [...change.users];
    void sql<{ room_id: string }[]>`
      SELECT DISTINCT room_id FROM current_state_events
      WHERE type = 'm.room.member' AND membership = 'join' AND state_key = ANY(${users}::text[])`
      .then((rows) => {
        if (rows.length > 0) notifier.notify({ stream: change.stream, position: change.position, rooms: rows.map((r) => r.room_id) });
      })
      .catch((e: unknown) => log.warn('could not find the rooms of a user change', { stream: change.stream, error: String(e) }));
  };
}
