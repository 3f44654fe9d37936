/**
 * Account data and room tags on the `account_data` stream (tables in migration 0007). Global and
 * per-room account data keep the latest content per type, stamped with the stream ID of the change;
 * tags live in their own table with a per-room revision row on the same stream, and readers fold
 * them into the room's `m.tag` event as /sync delivers them. Writes go through `AccountDataWriter`
 * so a process that does not write the stream can forward them; reads are plain Postgres queries.
 */
import type { JsonObject, NotifyFn } from '@hs/core';
import type { Sql, StreamWriter } from '@hs/storage';

export const TAG_EVENT_TYPE = 'm.tag';
export const IGNORED_USERS_TYPE = 'm.ignored_user_list';

export interface AccountDataWriter {
  /** Each returns the `account_data` stream position of the change. */
  setGlobal(userId: string, type: string, content: JsonObject): Promise<number>;
  setRoom(userId: string, roomId: string, type: string, content: JsonObject): Promise<number>;
  addTag(userId: string, roomId: string, tag: string, content: JsonObject): Promise<number>;
  removeTag(userId: string, roomId: string, tag: string): Promise<number>;
}

/** Writes on the `account_data` stream's writer process. */
export class LocalAccountDataWriter implements AccountDataWriter {
  private readonly sql: Sql;
  private readonly stream: StreamWriter;
  private readonly notify: NotifyFn;

  constructor(opts: { sql: Sql; stream: StreamWriter; notify: NotifyFn }) {
    this.sql = opts.sql;
    this.stream = opts.stream;
    this.notify = opts.notify;
  }

  /** Rows keep the content of the highest stream ID, whatever order concurrent writes commit in. */
  private async write(userId: string, work: (id: number) => Promise<unknown>): Promise<number> {
    // Notified after the commit but before the ID is released, so the change is announced with it.
    return this.stream.withIds(1, async ([id]) => {
      await work(id as number);
      this.notify({ stream: 'account_data', position: id as number, users: [userId] });
      return id as number;
    });
  }

  setGlobal(userId: string, type: string, content: JsonObject): Promise<number> {
    return this.write(userId, (id) => this.sql`
      INSERT INTO account_data (user_id, account_data_type, stream_id, content)
      VALUES (${userId}, ${type}, ${id}, ${this.sql.json(content)})
      ON CONFLICT (user_id, account_data_type) DO UPDATE SET stream_id = EXCLUDED.stream_id, content = EXCLUDED.content
      WHERE account_data.stream_id < EXCLUDED.stream_id`);
  }

  setRoom(userId: string, roomId: string, type: string, content: JsonObject): Promise<number> {
    return this.write(userId, (id) => this.sql`
      INSERT INTO room_account_data (user_id, room_id, account_data_type, stream_id, content)
      VALUES (${userId}, ${roomId}, ${type}, ${id}, ${this.sql.json(content)})
      ON CONFLICT (user_id, room_id, account_data_type) DO UPDATE SET stream_id = EXCLUDED.stream_id, content = EXCLUDED.content
      WHERE room_account_data.stream_id < EXCLUDED.stream_id`);
  }

  addTag(userId: string, roomId: string, tag: string, content: JsonObject): Promise<number> {
    return this.write(userId, (id) =>
      this.sql.begin(async (tx) => {
        await tx`
          INSERT INTO room_tags (user_id, room_id, tag, content) VALUES (${userId}, ${roomId}, ${tag}, ${tx.json(content)})
          ON CONFLICT (user_id, room_id, tag) DO UPDATE SET content = EXCLUDED.content`;
        await bumpTagRevision(tx as unknown as Sql, userId, roomId, id);
      }),
    );
  }

  removeTag(userId: string, roomId: string, tag: string): Promise<number> {
    return this.write(userId, (id) =>
      this.sql.begin(async (tx) => {
        await tx`DELETE FROM room_tags WHERE user_id = ${userId} AND room_id = ${roomId} AND tag = ${tag}`;
        await bumpTagRevision(tx as unknown as Sql, userId, roomId, id);
      }),
    );
  }
}

function bumpTagRevision(sql: Sql, userId: string, roomId: string, id: number) {
  return sql`
    INSERT INTO room_tags_revisions (user_id, room_id, stream_id) VALUES (${userId}, ${roomId}, ${id})
    ON CONFLICT (user_id, room_id) DO UPDATE SET stream_id = GREATEST(room_tags_revisions.stream_id, EXCLUDED.stream_id)`;
}

export async function getGlobalAccountData(sql: Sql, userId: string, type: string): Promise<JsonObject | null> {
  const [row] = await sql<{ content: JsonObject }[]>`
    SELECT content FROM account_data WHERE user_id = ${userId} AND account_data_type = ${type}`;
  return row?.content ?? null;
}

export async function getRoomAccountData(sql: Sql, userId: string, roomId: string, type: string): Promise<JsonObject | null> {
  const [row] = await sql<{ content: JsonObject }[]>`
    SELECT content FROM room_account_data WHERE user_id = ${userId} AND room_id = ${roomId} AND account_data_type = ${type}`;
  return row?.content ?? null;
}

/** The user's tags on a room: tag name → tag content. */
export async function getRoomTags(sql: Sql, userId: string, roomId: string): Promise<Record<string, JsonObject>> {
  const rows = await sql<{ tag: string; content: JsonObject }[]>`
    SELECT tag, content FROM room_tags WHERE user_id = ${userId} AND room_id = ${roomId}`;
  return Object.fromEntries(rows.map((r) => [r.tag, r.content]));
}

/** One account data event as /sync sends it. */
export interface AccountDataEvent extends JsonObject {
  type: string;
  content: JsonObject;
}

export interface AccountDataUpdates {
  /** Global account data changed in the window. */
  readonly global: AccountDataEvent[];
  /** Room ID → that room's changed account data, with `m.tag` holding the room's current tags. */
  readonly rooms: Map<string, AccountDataEvent[]>;
}

/**
 * `userId`'s account data changed in (fromStream, toStream], latest content per type. Pass 0 as
 * fromStream for everything (an initial sync).
 */
export async function getAccountDataUpdates(sql: Sql, userId: string, fromStream: number, toStream: number): Promise<AccountDataUpdates> {
  const rooms = new Map<string, AccountDataEvent[]>();
  if (fromStream >= toStream) return { global: [], rooms };
  const [globalRows, roomRows, tagRooms] = await Promise.all([
    sql<{ account_data_type: string; content: JsonObject }[]>`
      SELECT account_data_type, content FROM account_data
      WHERE user_id = ${userId} AND stream_id > ${fromStream} AND stream_id <= ${toStream} ORDER BY stream_id`,
    sql<{ room_id: string; account_data_type: string; content: JsonObject }[]>`
      SELECT room_id, account_data_type, content FROM room_account_data
      WHERE user_id = ${userId} AND stream_id > ${fromStream} AND stream_id <= ${toStream} ORDER BY stream_id`,
    sql<{ room_id: string }[]>`
      SELECT room_id FROM room_tags_revisions
      WHERE user_id = ${userId} AND stream_id > ${fromStream} AND stream_id <= ${toStream}`,
  ]);
  const add = (roomId: string, ev: AccountDataEvent) => {
    let list = rooms.get(roomId);
    if (!list) rooms.set(roomId, (list = []));
    list.push(ev);
  };
  const tagRoomIds = tagRooms.map((r) => r.room_id);
  const tagged = new Set(tagRoomIds);
  for (const r of roomRows) {
    // Tags are authoritative for `m.tag`; stray room account data of that type is shadowed.
    if (r.account_data_type === TAG_EVENT_TYPE && tagged.has(r.room_id)) continue;
    add(r.room_id, { type: r.account_data_type, content: r.content });
  }
  if (tagRoomIds.length > 0) {
    const tags = await sql<{ room_id: string; tag: string; content: JsonObject }[]>`
      SELECT room_id, tag, content FROM room_tags WHERE user_id = ${userId} AND room_id = ANY(${tagRoomIds})`;
    const byRoom = new Map<string, Record<string, JsonObject>>(tagRoomIds.map((id) => [id, {}]));
    for (const t of tags) (byRoom.get(t.room_id) as Record<string, JsonObject>)[t.tag] = t.content;
    for (const [roomId, roomTags] of byRoom) add(roomId, { type: TAG_EVENT_TYPE, content: { tags: roomTags } });
  }
  return { global: globalRows.map((r) => ({ type: r.account_data_type, content: r.content })), rooms };
}

/** The users `userId` ignores (`m.ignored_user_list`), for filtering timelines and invites. */
export async function getIgnoredUsers(sql: Sql, userId: string): Promise<string[]> {
  const content = await getGlobalAccountData(sql, userId, IGNORED_USERS_TYPE);
  const ignored = content?.ignored_users;
  return ignored && typeof ignored === 'object' && !Array.isArray(ignored) ? Object.keys(ignored) : [];
}

/** `getIgnoredUsers` for many users in one query (push actions evaluate every member of a room). */
export async function getIgnoredUsersOf(sql: Sql, userIds: readonly string[]): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  if (userIds.length === 0) return out;
  const rows = await sql<{ user_id: string; content: JsonObject }[]>`
    SELECT user_id, content FROM account_data
    WHERE user_id = ANY(${userIds as string[]}) AND account_data_type = ${IGNORED_USERS_TYPE}`;
  for (const r of rows) {
    const ignored = r.content.ignored_users;
    if (ignored && typeof ignored === 'object' && !Array.isArray(ignored)) out.set(r.user_id, new Set(Object.keys(ignored)));
  }
  return out;
}
