/**
 * What the media repository needs from its process, and the defaults Synapse uses for the knobs it
 * does not have to be told about.
 */
import type { Logger } from '@hs/core';
import type { Sql } from '@hs/storage';
import type { RemoteMediaFetcher } from './remote-media.ts';
import { DEFAULT_THUMBNAIL_SIZES, type ThumbnailSize } from './thumbnail-sizes.ts';

export interface MediaDeps {
  readonly sql: Sql;
  /** Our server name: the authority of the MXC URIs we issue. */
  readonly serverName: string;
  /** Root of the on-disk store (Synapse's `media_store_path`). */
  readonly mediaStorePath: string;
  /** Largest accepted upload, in bytes (Synapse's `max_upload_size`). */
  readonly maxUploadSize: number;
  readonly log: Logger;
  /** Fetches other servers' media; absent until federation exists, and then remote MXCs answer 404. */
  readonly remoteMedia?: RemoteMediaFetcher;
  /** Images with more pixels than this are not thumbnailed (Synapse's `max_image_pixels`, default 32M). */
  readonly maxImagePixels?: number;
  /** Sizes generated when an image is uploaded (Synapse's `thumbnail_sizes`). */
  readonly thumbnailSizes?: readonly ThumbnailSize[];
  /** Generate exactly the requested size on demand instead of picking a stored one (default false, as Synapse). */
  readonly dynamicThumbnails?: boolean;
  /** How long a `/create`d media ID waits for its upload (Synapse's `unused_expiration_time`, default 24h). */
  readonly unusedExpirationMs?: number;
  /** Created-but-unused media IDs a user may hold at once (Synapse's `max_pending_media_uploads`, default 5). */
  readonly maxPendingMediaUploads?: number;
  /**
   * Synapse's `enable_authenticated_media` (default true): new uploads are marked authenticated and the
   * legacy unauthenticated `/_matrix/media/v3/download|thumbnail` endpoints refuse them with 404.
   */
  readonly enableAuthenticatedMedia?: boolean;
  /** Clock, for tests. */
  readonly now?: () => number;
}

/** MediaDeps with every default applied. */
export interface MediaSettings {
  readonly serverName: string;
  readonly mediaStorePath: string;
  readonly maxUploadSize: number;
  readonly maxImagePixels: number;
  readonly thumbnailSizes: readonly ThumbnailSize[];
  readonly dynamicThumbnails: boolean;
  readonly unusedExpirationMs: number;
  readonly maxPendingMediaUploads: number;
  readonly enableAuthenticatedMedia: boolean;
  readonly now: () => number;
}

export function mediaSettings(deps: MediaDeps): MediaSettings {
  return {
    serverName: deps.serverName,
    mediaStorePath: deps.mediaStorePath,
    maxUploadSize: deps.maxUploadSize,
    maxImagePixels: deps.maxImagePixels ?? 32 * 1024 * 1024,
    thumbnailSizes: deps.thumbnailSizes ?? DEFAULT_THUMBNAIL_SIZES,
    dynamicThumbnails: deps.dynamicThumbnails ?? false,
    unusedExpirationMs: deps.unusedExpirationMs ?? 24 * 60 * 60 * 1000,
    maxPendingMediaUploads: deps.maxPendingMediaUploads ?? 5,
    enableAuthenticatedMedia: deps.enableAuthenticatedMedia ?? true,
    now: deps.now ?? Date.now,
  };
}
