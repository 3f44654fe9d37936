/**
 * POST /user_directory/search (users.yaml) with Synapse's default `search_all_users: false`: users
 * who are joined to a room the requester is joined to, or to a room anyone may join or read (public
 * join rule or world_readable history). Each word of the term prefix-matches a word of the user's
 * localpart or display name (GIN on `user_directory.vector`); a full user ID matches exactly.
 * Visibility is checked per candidate through the member index, so the cost follows the matches.
 */
import type { JsonObject } from '@hs/core';
import type { Requester } from '@hs/http';
import { isValidUserId } from '@hs/rooms';
import type { RoomApi } from './api.ts';
import { splitWords } from './searchable.ts';

const DEFAULT_LIMIT = 10;
const MAX_LIMIT = 50;

export async function searchUserDirectory(api: RoomApi, r: Requester, term: string, limitIn: number | undefined): Promise<JsonObject> {
  const limit = Math.max(0, Math.min(limitIn ?? DEFAULT_LIMIT, MAX_LIMIT));
  const words = splitWords(term).slice(0, 20);
  const exact = isValidUserId(term.trim()) ? term.trim() : undefined;
  if ((words.length === 0 && exact === undefined) || limit === 0) return { results: [], limited: false };
  await api.indexer.catchUpQuietly();
  const { sql } = api;
  const query = words.map((w) => `'${w}':*`).join(' & ');
  const me = r.userId;
  const rows = await sql<{ user_id: string; display_name: string | null; avatar_url: string | null }[]>`
    SELECT d.user_id, d.display_name, d.avatar_url
    FROM user_directory d
    WHERE (${words.length > 0 ? sql`d.vector @@ to_tsquery('simple', ${query})` : sql`false`} OR d.user_id = ${exact ?? ''})
      AND (
        EXISTS (
          SELECT 1 FROM current_state_events c JOIN room_stats s ON s.room_id = c.room_id
          WHERE c.type = 'm.room.member' AND c.state_key = d.user_id AND c.membership = 'join'
            AND (s.join_rule = 'public' OR s.history_visibility = 'world_readable'))
        OR (d.user_id <> ${me} AND EXISTS (
          SELECT 1 FROM current_state_events c JOIN local_current_membership m ON m.room_id = c.room_id
          WHERE c.type = 'm.room.member' AND c.state_key = d.user_id AND c.membership = 'join'
            AND m.user_id = ${me} AND m.membership = 'join')))
    ORDER BY d.user_id = ${exact ?? ''} DESC,
             ${words.length > 0 ? sql`ts_rank_cd(d.vector, to_tsquery('simple', ${query})) DESC,` : sql``}
             d.display_name IS NULL, d.avatar_url IS NULL, d.user_id
    LIMIT ${limit + 1}`;
  const results = rows.slice(0, limit).map((u) => {
    const out: JsonObject = { user_id: u.user_id };
    if (u.display_name !== null) out.display_name = u.display_name;
    if (u.avatar_url !== null) out.avatar_url = u.avatar_url;
    return out;
  });
  return { results, limited: rows.length > limit };
}
