/**
 * HTTP glue: parse what the client sent, call the repository, and stream the answer. Downloads and
 * thumbnails write the response themselves (they are files, not JSON).
 */
import { errors, type Logger } from '@hs/core';
import { queryBool, queryInt, queryString, type Handler, type RequestContext } from '@hs/http';
import { mediaSettings, type MediaDeps, type MediaSettings } from './deps.ts';
import { MediaFilePaths } from './file-paths.ts';
import { LocalThumbnails } from './local-thumbnails.ts';
import { isValidServerName } from './media-id.ts';
import { MediaStore } from './media-store.ts';
import type { MediaFile, RemoteMediaFetcher } from './remote-media.ts';
import { DEFAULT_WAIT_MS, MAX_WAIT_MS, MediaRepository, type UploadRequest } from './repository.ts';
import {
  MEDIA_ETAG,
  contentDisposition,
  contentTypeHeader,
  mediaCacheHeaders,
  mediaSecurityHeaders,
  sanitizeMediaType,
} from './response-headers.ts';
import { isNotModified, sendFile } from './send-file.ts';
import type { ThumbnailMethod, ThumbnailWanted } from './thumbnail-sizes.ts';
import { Thumbnailer } from './thumbnailer.ts';

/** Which door a download came through: the authenticated v1 API or the frozen legacy one. */
type Door = 'authenticated' | 'legacy';

const THUMBNAIL_EXTENSIONS: Readonly<Record<string, string>> = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/webp': 'webp',
  'image/gif': 'gif',
};

function uploadRequest(ctx: RequestContext): UploadRequest {
  const filename = queryString(ctx.req, 'filename');
  // Postgres text cannot hold NUL; no real file name contains one.
  if (filename?.includes('\u0000')) throw errors.invalidParam('Invalid filename parameter');
  const requester = ctx.requester;
  if (!requester) throw errors.missingToken();
  return {
    userId: requester.userId,
    content: Buffer.isBuffer(ctx.body) ? ctx.body : Buffer.alloc(0),
    mediaType: sanitizeMediaType(ctx.req.headers['content-type']),
    uploadName: filename ? filename : null,
  };
}

/** A client-side wait bound: Synapse's default 20 s, capped at 60 s. */
function waitMs(ctx: RequestContext): number {
  return Math.min(queryInt(ctx.req, 'timeout_ms', { min: 0 }) ?? DEFAULT_WAIT_MS, MAX_WAIT_MS);
}

/** Aborted when the client disconnects, so waits and remote fetches stop early. */
function clientGone(ctx: RequestContext): AbortSignal {
  const ac = new AbortController();
  ctx.res.once('close', () => ac.abort());
  return ac.signal;
}

function checkServerName(serverName: string): void {
  if (!isValidServerName(serverName)) throw errors.invalidParam('Invalid server name');
}

function thumbnailWanted(ctx: RequestContext): ThumbnailWanted {
  const width = queryInt(ctx.req, 'width', { min: 1 });
  const height = queryInt(ctx.req, 'height', { min: 1 });
  if (width === undefined) throw errors.missingParam('Missing integer query parameter width');
  if (height === undefined) throw errors.missingParam('Missing integer query parameter height');
  const method = queryString(ctx.req, 'method') ?? 'scale';
  if (method !== 'crop' && method !== 'scale') throw errors.invalidParam('method must be crop or scale');
  return { width, height, method: method as ThumbnailMethod, animated: queryBool(ctx.req, 'animated') ?? false };
}

class MediaHttp {
  private readonly settings: MediaSettings;
  private readonly repo: MediaRepository;
  private readonly thumbnails: LocalThumbnails;
  private readonly remote: RemoteMediaFetcher | undefined;
  private readonly log: Logger;

  constructor(deps: MediaDeps) {
    this.settings = mediaSettings(deps);
    this.log = deps.log;
    this.remote = deps.remoteMedia;
    const paths = new MediaFilePaths(deps.mediaStorePath);
    const store = new MediaStore(deps.sql);
    this.thumbnails = new LocalThumbnails({
      paths,
      store,
      thumbnailer: new Thumbnailer({ maxImagePixels: this.settings.maxImagePixels }),
      sizes: this.settings.thumbnailSizes,
      dynamic: this.settings.dynamicThumbnails,
      log: deps.log,
    });
    this.repo = new MediaRepository(this.settings, store, this.thumbnails, paths, deps.log);
  }

  upload: Handler = async (ctx) => ({ body: { content_uri: await this.repo.upload(uploadRequest(ctx)) } });

  create: Handler = async (ctx) => {
    if (!ctx.requester) throw errors.missingToken();
    const r = await this.repo.create(ctx.requester.userId);
    return { body: { content_uri: r.contentUri, unused_expires_at: r.unusedExpiresAt } };
  };

  uploadInto: Handler = async (ctx) => {
    await this.repo.uploadInto(ctx.params.serverName ?? '', ctx.params.mediaId ?? '', uploadRequest(ctx));
    return { body: {} };
  };

  config: Handler = () => ({ body: { 'm.upload.size': this.settings.maxUploadSize } });

  /** Remote media goes to the fetcher, when there is one; the frozen legacy door never fetches. */
  private remoteFetcher(door: Door, serverName: string): RemoteMediaFetcher {
    if (door === 'legacy' && this.settings.enableAuthenticatedMedia) {
      throw errors.notFound('Remote media is only available through the authenticated media API');
    }
    if (!this.remote) throw errors.notFound(`Cannot fetch media from ${serverName}: this server does not fetch remote media yet`);
    return this.remote;
  }

  private async localMedia(ctx: RequestContext, door: Door, mediaId: string) {
    const media = await this.repo.getServableLocalMedia(mediaId, waitMs(ctx), clientGone(ctx));
    // Synapse's freeze: media uploaded under authenticated media never leaves through the legacy door.
    if (door === 'legacy' && this.settings.enableAuthenticatedMedia && media.authenticated) throw errors.notFound('Media not found');
    return media;
  }

  private notModified(ctx: RequestContext): boolean {
    if (!isNotModified(ctx.req, MEDIA_ETAG)) return false;
    ctx.res.status(304);
    for (const [k, v] of Object.entries(mediaCacheHeaders())) ctx.res.setHeader(k, v);
    ctx.res.end();
    return true;
  }

  private async send(ctx: RequestContext, file: MediaFile, disposition: string): Promise<void> {
    const headers = {
      ...mediaSecurityHeaders(),
      ...mediaCacheHeaders(),
      'Content-Type': contentTypeHeader(sanitizeMediaType(file.mediaType)),
      'Content-Disposition': disposition,
    };
    if (!(await sendFile(ctx.req, ctx.res, file.path, headers, this.log))) throw errors.notFound('Media not found');
  }

  download(door: Door): Handler {
    return async (ctx) => {
      const { serverName = '', mediaId = '', fileName } = ctx.params;
      checkServerName(serverName);
      if (door === 'legacy' && serverName !== this.settings.serverName && queryBool(ctx.req, 'allow_remote') === false) {
        throw errors.notFound('Remote media not allowed by allow_remote');
      }
      let file: MediaFile;
      if (serverName === this.settings.serverName) {
        const media = await this.localMedia(ctx, door, mediaId);
        file = {
          path: this.repo.paths.localContent(media.mediaId),
          mediaType: media.mediaType ?? 'application/octet-stream',
          length: media.mediaLength ?? 0,
          uploadName: media.uploadName,
        };
      } else {
        const remote = this.remoteFetcher(door, serverName);
        const found = await remote.fetchMedia({ serverName, mediaId, timeoutMs: waitMs(ctx), signal: clientGone(ctx) });
        if (!found) throw errors.notFound('Media not found');
        file = found;
      }
      if (this.notModified(ctx)) return undefined;
      const mediaType = sanitizeMediaType(file.mediaType);
      await this.send(ctx, file, contentDisposition(mediaType, fileName ?? file.uploadName));
      return undefined;
    };
  }

  thumbnail(door: Door): Handler {
    return async (ctx) => {
      const { serverName = '', mediaId = '' } = ctx.params;
      checkServerName(serverName);
      const want = thumbnailWanted(ctx);
      let file: MediaFile;
      if (serverName === this.settings.serverName) {
        const media = await this.localMedia(ctx, door, mediaId);
        if (this.notModified(ctx)) return undefined;
        file = await this.thumbnails.resolve(media.mediaId, media.mediaType, want);
      } else {
        const remote = this.remoteFetcher(door, serverName);
        const found = await remote.fetchThumbnail({ serverName, mediaId, ...want, timeoutMs: waitMs(ctx), signal: clientGone(ctx) });
        if (!found) throw errors.notFound('Media not found');
        if (this.notModified(ctx)) return undefined;
        file = found;
      }
      const ext = THUMBNAIL_EXTENSIONS[file.mediaType] ?? 'bin';
      await this.send(ctx, file, `inline; filename=thumbnail.${ext}`);
      return undefined;
    };
  }
}

/** Endpoint name → handler for every declaration in `mediaEndpoints`. */
export function createMediaHandlers(deps: MediaDeps): Map<string, Handler> {
  const h = new MediaHttp(deps);
  return new Map<string, Handler>([
    ['media_upload', h.upload],
    ['media_create', h.create],
    ['media_upload_into', h.uploadInto],
    ['media_download', h.download('authenticated')],
    ['media_download_named', h.download('authenticated')],
    ['media_thumbnail', h.thumbnail('authenticated')],
    ['media_config', h.config],
    ['media_legacy_download', h.download('legacy')],
    ['media_legacy_download_named', h.download('legacy')],
    ['media_legacy_thumbnail', h.thumbnail('legacy')],
    ['media_legacy_config', h.config],
  ]);
}
