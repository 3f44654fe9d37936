/**
 * The media repository's operations, free of HTTP: store an upload, reserve an MXC URI and fill it
 * later, and find local media for a download (waiting a while for a reserved ID's content). Order of
 * writes: the file is durable first, the row second, thumbnails last — a row never points at bytes
 * that are not there, and a crash leaves at worst an orphan file.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import { MatrixError, errors, type Logger } from '@hs/core';
import type { MediaSettings } from './deps.ts';
import { writeFileDurably } from './durable-file.ts';
import { MediaFilePaths } from './file-paths.ts';
import type { LocalThumbnails } from './local-thumbnails.ts';
import { generateMediaId, isPlausibleLocalMediaId } from './media-id.ts';
import type { LocalMedia, MediaStore, NewContent } from './media-store.ts';

/** Synapse's bounds on how long a download waits for a reserved ID to receive its content. */
export const DEFAULT_WAIT_MS = 20_000;
export const MAX_WAIT_MS = 60_000;
const POLL_MS = 500;

export interface UploadRequest {
  readonly userId: string;
  readonly content: Buffer;
  readonly mediaType: string;
  readonly uploadName: string | null;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

export class MediaRepository {
  readonly paths: MediaFilePaths;
  private readonly settings: MediaSettings;
  private readonly store: MediaStore;
  private readonly thumbnails: LocalThumbnails;
  private readonly log: Logger;

  constructor(settings: MediaSettings, store: MediaStore, thumbnails: LocalThumbnails, paths: MediaFilePaths, log: Logger) {
    this.settings = settings;
    this.store = store;
    this.thumbnails = thumbnails;
    this.paths = paths;
    this.log = log;
  }

  mxc(mediaId: string): string {
    return `mxc://${this.settings.serverName}/${mediaId}`;
  }

  private checkSize(content: Buffer): void {
    if (content.length > this.settings.maxUploadSize) {
      throw new MatrixError(413, 'M_TOO_LARGE', 'Upload request body is too large');
    }
  }

  private async describe(req: UploadRequest): Promise<NewContent> {
    const sha256 = createHash('sha256').update(req.content).digest('hex');
    const quarantined = await this.store.isHashQuarantined(sha256);
    if (quarantined) this.log.warn('upload matches quarantined media and is quarantined too');
    return { mediaType: req.mediaType, mediaLength: req.content.length, uploadName: req.uploadName, sha256, quarantinedBy: quarantined ? 'system' : null };
  }

  /** Thumbnailing is best effort: the upload has succeeded whatever happens here. */
  private async thumbnail(mediaId: string, req: UploadRequest): Promise<void> {
    try {
      await this.thumbnails.generateForUpload(mediaId, req.mediaType, req.content);
    } catch (e) {
      this.log.warn('failed to generate thumbnails', { mediaId, error: (e as Error).message });
    }
  }

  /** `POST /upload`: store new content under a fresh ID; returns the MXC URI. */
  async upload(req: UploadRequest): Promise<string> {
    this.checkSize(req.content);
    const mediaId = generateMediaId();
    const file = this.paths.localContent(mediaId);
    await writeFileDurably(file, req.content);
    try {
      await this.store.insertLocalMedia({
        ...(await this.describe(req)),
        mediaId,
        createdTs: this.settings.now(),
        userId: req.userId,
        authenticated: this.settings.enableAuthenticatedMedia,
      });
    } catch (e) {
      await fs.rm(file, { force: true });
      throw e;
    }
    await this.thumbnail(mediaId, req);
    this.log.info('stored local media', { mediaId, length: req.content.length });
    return this.mxc(mediaId);
  }

  /** `POST /create`: reserve an ID for a later upload, within the user's pending limit. */
  async create(userId: string): Promise<{ contentUri: string; unusedExpiresAt: number }> {
    const now = this.settings.now();
    const pending = await this.store.pendingUploads(userId, now - this.settings.unusedExpirationMs);
    if (pending.count >= this.settings.maxPendingMediaUploads) {
      const firstExpiry = (pending.oldestCreatedTs ?? now) + this.settings.unusedExpirationMs;
      throw new MatrixError(429, 'M_LIMIT_EXCEEDED', 'You have too many pending media uploads', { retry_after_ms: Math.max(0, firstExpiry - now) });
    }
    const mediaId = generateMediaId();
    await this.store.reserveMediaId(mediaId, userId, now, this.settings.enableAuthenticatedMedia);
    return { contentUri: this.mxc(mediaId), unusedExpiresAt: now + this.settings.unusedExpirationMs };
  }

  /** `PUT /upload/{serverName}/{mediaId}`: fill a reserved ID — its creator only, once, before it expires. */
  async uploadInto(serverName: string, mediaId: string, req: UploadRequest): Promise<void> {
    if (serverName !== this.settings.serverName) throw errors.notFound('Non-local server name specified');
    if (!isPlausibleLocalMediaId(mediaId)) throw errors.notFound('Unknown media ID');
    const outcome = await this.store.withMediaRowLocked(mediaId, async (media, complete) => {
      if (!media) throw errors.notFound('Unknown media ID');
      if (media.userId !== req.userId) throw errors.forbidden('Only the creator of the media ID can upload to it');
      if (media.mediaLength !== null) throw new MatrixError(409, 'M_CANNOT_OVERWRITE_MEDIA', 'Media ID already has content');
      if (media.createdTs < this.settings.now() - this.settings.unusedExpirationMs) throw errors.notFound('Media ID has expired');
      this.checkSize(req.content);
      await writeFileDurably(this.paths.localContent(mediaId), req.content);
      await complete(await this.describe(req));
    });
    if (outcome === 'locked') throw new MatrixError(409, 'M_CANNOT_OVERWRITE_MEDIA', 'Media ID is being uploaded to');
    await this.thumbnail(mediaId, req);
    this.log.info('stored local media into reserved ID', { mediaId, length: req.content.length });
  }

  /**
   * Local media that can be served: known, not quarantined, with content. A reserved ID is waited for
   * (polling, as the upload may land on another process) until `waitMs`; then 504 M_NOT_YET_UPLOADED.
   */
  async getServableLocalMedia(mediaId: string, waitMs: number, signal?: AbortSignal): Promise<LocalMedia> {
    if (!isPlausibleLocalMediaId(mediaId)) throw errors.notFound('Media not found');
    // The wait is measured on the monotonic clock; expiry is wall-clock time, like created_ts.
    const deadline = performance.now() + waitMs;
    for (;;) {
      const media = await this.store.getLocalMedia(mediaId);
      if (!media || media.quarantinedBy !== null) throw errors.notFound('Media not found');
      if (media.mediaLength !== null) return media;
      if (media.createdTs < this.settings.now() - this.settings.unusedExpirationMs) throw errors.notFound('Media not found');
      const left = deadline - performance.now();
      if (left <= 0 || signal?.aborted) break;
      await sleep(Math.min(POLL_MS, left), signal);
    }
    throw new MatrixError(504, 'M_NOT_YET_UPLOADED', 'Media has not been uploaded yet');
  }
}
