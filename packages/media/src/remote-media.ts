/**
 * The seam for other servers' media. Fetching it needs federation (signed requests to
 * `/_matrix/federation/v1/media/...`, a `remote_media_cache` table, `remote_content/` files), which a
 * later package provides by implementing `RemoteMediaFetcher` and passing it in `MediaDeps`. Until
 * then a remote MXC answers 404 M_NOT_FOUND.
 */
import type { ThumbnailMethod } from './thumbnail-sizes.ts';

/** A file ready to be streamed to a client. */
export interface MediaFile {
  /** Absolute path of the file inside the media store. */
  readonly path: string;
  readonly mediaType: string;
  readonly length: number;
  /** The file name the origin gave, if any (used in Content-Disposition). */
  readonly uploadName: string | null;
}

export interface RemoteMediaRequest {
  readonly serverName: string;
  readonly mediaId: string;
  /** How long the client is willing to wait for the origin. */
  readonly timeoutMs: number;
  /** Aborted when the client goes away. */
  readonly signal: AbortSignal;
}

export interface RemoteThumbnailRequest extends RemoteMediaRequest {
  readonly width: number;
  readonly height: number;
  readonly method: ThumbnailMethod;
  readonly animated: boolean;
}

export interface RemoteMediaFetcher {
  /**
   * The remote media, from the local cache or fetched from its origin and cached. Resolves null when
   * the origin does not have it; throws a MatrixError for the other failures (502 too large, 504
   * not yet uploaded, ...).
   */
  fetchMedia(req: RemoteMediaRequest): Promise<MediaFile | null>;
  /** A thumbnail of remote media, or null when none can be had. */
  fetchThumbnail(req: RemoteThumbnailRequest): Promise<MediaFile | null>;
}
