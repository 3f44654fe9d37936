/**
 * The media tables (`local_media_repository`, `local_media_repository_thumbnails`). Every query here is
 * by primary key or an index; nothing is cached in process memory, so any media worker can serve any
 * request.
 */
import type { Sql, TransactionSql } from '@hs/storage';
import type { StoredThumbnail } from './thumbnail-sizes.ts';

export interface LocalMedia {
  readonly mediaId: string;
  /** Null while a reserved ID waits for its upload. */
  readonly mediaType: string | null;
  /** Null until uploaded. */
  readonly mediaLength: number | null;
  readonly createdTs: number;
  readonly uploadName: string | null;
  readonly userId: string | null;
  readonly quarantinedBy: string | null;
  readonly authenticated: boolean;
  readonly urlCache: string | null;
}

interface MediaRow {
  media_id: string;
  media_type: string | null;
  media_length: number | null;
  created_ts: number;
  upload_name: string | null;
  user_id: string | null;
  quarantined_by: string | null;
  authenticated: boolean;
  url_cache: string | null;
}

function toMedia(r: MediaRow): LocalMedia {
  return {
    mediaId: r.media_id,
    mediaType: r.media_type,
    mediaLength: r.media_length,
    createdTs: r.created_ts,
    uploadName: r.upload_name,
    userId: r.user_id,
    quarantinedBy: r.quarantined_by,
    authenticated: r.authenticated,
    urlCache: r.url_cache,
  };
}

export interface NewContent {
  readonly mediaType: string;
  readonly mediaLength: number;
  readonly uploadName: string | null;
  readonly sha256: string;
  readonly quarantinedBy: string | null;
}

/** Postgres' lock_not_available: another upload into the same reserved ID holds the row. */
const LOCK_NOT_AVAILABLE = '55P03';

export class MediaStore {
  private readonly sql: Sql;

  constructor(sql: Sql) {
    this.sql = sql;
  }

  async getLocalMedia(mediaId: string): Promise<LocalMedia | undefined> {
    const rows = await this.sql<MediaRow[]>`
      SELECT media_id, media_type, media_length, created_ts, upload_name, user_id, quarantined_by, authenticated, url_cache
      FROM local_media_repository WHERE media_id = ${mediaId}`;
    return rows[0] ? toMedia(rows[0]) : undefined;
  }

  async insertLocalMedia(m: NewContent & { mediaId: string; createdTs: number; userId: string; authenticated: boolean }): Promise<void> {
    await this.sql`
      INSERT INTO local_media_repository
        (media_id, media_type, media_length, created_ts, upload_name, user_id, quarantined_by, authenticated, sha256)
      VALUES (${m.mediaId}, ${m.mediaType}, ${m.mediaLength}, ${m.createdTs}, ${m.uploadName}, ${m.userId},
              ${m.quarantinedBy}, ${m.authenticated}, ${m.sha256})`;
  }

  /** Record a `/create`d ID with no content yet. */
  async reserveMediaId(mediaId: string, userId: string, createdTs: number, authenticated: boolean): Promise<void> {
    await this.sql`
      INSERT INTO local_media_repository (media_id, created_ts, user_id, authenticated)
      VALUES (${mediaId}, ${createdTs}, ${userId}, ${authenticated})`;
  }

  /** The user's reserved, still-unexpired, not-yet-uploaded IDs: how many, and the oldest's creation time. */
  async pendingUploads(userId: string, createdAfterTs: number): Promise<{ count: number; oldestCreatedTs: number | null }> {
    const rows = await this.sql<{ count: number; oldest: number | null }[]>`
      SELECT count(*)::int AS count, min(created_ts) AS oldest FROM local_media_repository
      WHERE user_id = ${userId} AND created_ts > ${createdAfterTs} AND media_length IS NULL`;
    return { count: rows[0]?.count ?? 0, oldestCreatedTs: rows[0]?.oldest ?? null };
  }

  async isHashQuarantined(sha256: string): Promise<boolean> {
    const rows = await this.sql`
      SELECT 1 FROM local_media_repository WHERE sha256 = ${sha256} AND quarantined_by IS NOT NULL LIMIT 1`;
    return rows.length > 0;
  }

  /**
   * Run `fn` holding the row lock of a reserved media ID, so two uploads into one ID cannot interleave
   * (across processes too). Resolves `'locked'` at once when another upload holds it; the lock goes
   * with the transaction, so a crashed uploader never leaves the ID stuck.
   */
  async withMediaRowLocked<T>(
    mediaId: string,
    fn: (media: LocalMedia | undefined, complete: (c: NewContent) => Promise<void>) => Promise<T>,
  ): Promise<T | 'locked'> {
    try {
      return await this.sql.begin(async (tx: TransactionSql) => {
        const rows = await tx<MediaRow[]>`
          SELECT media_id, media_type, media_length, created_ts, upload_name, user_id, quarantined_by, authenticated, url_cache
          FROM local_media_repository WHERE media_id = ${mediaId} FOR UPDATE NOWAIT`;
        const complete = async (c: NewContent): Promise<void> => {
          await tx`
            UPDATE local_media_repository
            SET media_type = ${c.mediaType}, media_length = ${c.mediaLength}, upload_name = ${c.uploadName},
                sha256 = ${c.sha256}, quarantined_by = ${c.quarantinedBy}
            WHERE media_id = ${mediaId}`;
        };
        return fn(rows[0] ? toMedia(rows[0]) : undefined, complete);
      }) as T;
    } catch (e) {
      if ((e as { code?: unknown }).code === LOCK_NOT_AVAILABLE) return 'locked';
      throw e;
    }
  }

  async listThumbnails(mediaId: string): Promise<StoredThumbnail[]> {
    const rows = await this.sql<{ w: number; h: number; type: string; method: string; length: number }[]>`
      SELECT thumbnail_width AS w, thumbnail_height AS h, thumbnail_type AS type, thumbnail_method AS method,
             thumbnail_length AS length
      FROM local_media_repository_thumbnails WHERE media_id = ${mediaId}`;
    return rows.map((r) => ({ width: r.w, height: r.h, type: r.type, method: r.method, length: r.length }));
  }

  /** Record thumbnails whose files are already durable (a regenerated one updates its length). */
  async insertThumbnails(mediaId: string, thumbs: readonly StoredThumbnail[]): Promise<void> {
    if (thumbs.length === 0) return;
    const rows = thumbs.map((t) => ({
      media_id: mediaId,
      thumbnail_width: t.width,
      thumbnail_height: t.height,
      thumbnail_type: t.type,
      thumbnail_method: t.method,
      thumbnail_length: t.length,
    }));
    await this.sql`INSERT INTO local_media_repository_thumbnails ${this.sql(rows)}
      ON CONFLICT (media_id, thumbnail_width, thumbnail_height, thumbnail_type, thumbnail_method)
      DO UPDATE SET thumbnail_length = EXCLUDED.thumbnail_length`;
  }
}
