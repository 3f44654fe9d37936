/**
 * Thumbnails of local media: made on upload for the configured sizes, then served by picking the best
 * stored one (Synapse's default) or, with `dynamicThumbnails`, made to measure on first request. Files
 * are durable before their rows exist, so a listed thumbnail is always either on disk or regenerable.
 */
import fs from 'node:fs/promises';
import { MatrixError, errors, type Logger } from '@hs/core';
import { writeFileDurably, writeFilesDurably, type PendingFile } from './durable-file.ts';
import type { MediaFilePaths } from './file-paths.ts';
import type { MediaStore } from './media-store.ts';
import type { MediaFile } from './remote-media.ts';
import {
  ANIMATED_THUMBNAIL_TYPE,
  planThumbnails,
  scaledSize,
  selectThumbnail,
  thumbnailTypeFor,
  type StoredThumbnail,
  type ThumbnailSize,
  type ThumbnailWanted,
} from './thumbnail-sizes.ts';
import type { ImageInfo, ImageSource, RenderSpec, Thumbnailer } from './thumbnailer.ts';

export interface LocalThumbnailsOptions {
  readonly paths: MediaFilePaths;
  readonly store: MediaStore;
  readonly thumbnailer: Thumbnailer;
  readonly sizes: readonly ThumbnailSize[];
  readonly dynamic: boolean;
  readonly log: Logger;
}

const cannotThumbnail = () => new MatrixError(400, 'M_UNKNOWN', 'Cannot generate thumbnails for the requested content');

export class LocalThumbnails {
  private readonly o: LocalThumbnailsOptions;

  constructor(opts: LocalThumbnailsOptions) {
    this.o = opts;
  }

  /**
   * Make the configured thumbnails of a fresh upload (plus animated ones for animated images). Not an
   * image, not decodable or too big: nothing is made, and thumbnail requests will say so.
   */
  async generateForUpload(mediaId: string, mediaType: string, source: ImageSource): Promise<number> {
    const type = thumbnailTypeFor(mediaType);
    if (!type) return 0;
    const probe = await this.o.thumbnailer.probe(source);
    if (!probe.ok) {
      this.o.log.info('not thumbnailing upload', { mediaId, reason: probe.reason });
      return 0;
    }
    const image = probe.image;
    const specs: RenderSpec[] = planThumbnails(image.width, image.height, type, this.o.sizes);
    if (image.canAnimate) {
      const seen = new Set<string>();
      for (const s of [...specs]) {
        const key = `${s.width}x${s.height}-${s.method}`;
        if (seen.has(key)) continue;
        seen.add(key);
        specs.push({ ...s, type: ANIMATED_THUMBNAIL_TYPE });
      }
    }
    const rendered = await this.o.thumbnailer.renderMany(source, image, specs);
    const files: PendingFile[] = [];
    const rows: StoredThumbnail[] = [];
    specs.forEach((spec, i) => {
      const data = rendered[i] as Buffer;
      files.push({ path: this.o.paths.localThumbnail(mediaId, spec.width, spec.height, spec.type, spec.method), data });
      rows.push({ ...spec, length: data.length });
    });
    await writeFilesDurably(files);
    await this.o.store.insertThumbnails(mediaId, rows);
    return rows.length;
  }

  /** The thumbnail file that answers `want` for this (uploaded, visible) media; throws the Matrix error otherwise. */
  async resolve(mediaId: string, mediaType: string | null, want: ThumbnailWanted): Promise<MediaFile> {
    return this.o.dynamic ? this.resolveExact(mediaId, mediaType, want) : this.resolveStored(mediaId, want);
  }

  private async resolveStored(mediaId: string, want: ThumbnailWanted): Promise<MediaFile> {
    const stored = await this.o.store.listThumbnails(mediaId);
    if (stored.length === 0) {
      throw new MatrixError(
        400,
        'M_UNKNOWN',
        'Cannot find any thumbnails for the requested media: it is not a supported image (image/jpeg, image/png, image/gif, image/webp) or thumbnailing it failed.',
      );
    }
    const chosen = selectThumbnail(want, stored);
    if (!chosen) throw errors.notFound('No thumbnail of the requested kind exists');
    const file = await this.fileOf(mediaId, chosen);
    if (file) return file;
    // Listed but gone from disk (deleted by hand, restored backup): it was made once, so make it again.
    return this.generateExact(mediaId, { width: chosen.width, height: chosen.height, method: chosen.method === 'crop' ? 'crop' : 'scale', type: chosen.type });
  }

  private async resolveExact(mediaId: string, mediaType: string | null, want: ThumbnailWanted): Promise<MediaFile> {
    const staticType = thumbnailTypeFor(mediaType);
    if (!staticType) throw cannotThumbnail();
    const probe = await this.o.thumbnailer.probe(this.o.paths.localContent(mediaId));
    if (!probe.ok) {
      if (probe.reason === 'too_large') throw new MatrixError(413, 'M_TOO_LARGE', 'Content is too large to thumbnail');
      throw cannotThumbnail();
    }
    const spec = exactSpec(probe.image, want, staticType);
    const stored = await this.o.store.listThumbnails(mediaId);
    const hit = stored.find((t) => t.width === spec.width && t.height === spec.height && t.method === spec.method && t.type === spec.type);
    const file = hit ? await this.fileOf(mediaId, hit) : undefined;
    return file ?? this.generateExact(mediaId, spec);
  }

  private async fileOf(mediaId: string, t: StoredThumbnail): Promise<MediaFile | undefined> {
    const path = this.o.paths.localThumbnail(mediaId, t.width, t.height, t.type, t.method);
    const exists = await fs.stat(path).then((s) => s.isFile(), () => false);
    return exists ? { path, mediaType: t.type, length: t.length, uploadName: null } : undefined;
  }

  private async generateExact(mediaId: string, spec: RenderSpec): Promise<MediaFile> {
    const source = this.o.paths.localContent(mediaId);
    const probe = await this.o.thumbnailer.probe(source);
    if (!probe.ok) throw probe.reason === 'too_large' ? new MatrixError(413, 'M_TOO_LARGE', 'Content is too large to thumbnail') : cannotThumbnail();
    let data: Buffer;
    try {
      data = await this.o.thumbnailer.render(source, spec);
    } catch (e) {
      this.o.log.warn('thumbnail generation failed', { mediaId, error: (e as Error).message });
      throw new MatrixError(400, 'M_UNKNOWN', 'Failed to generate thumbnail.');
    }
    const path = this.o.paths.localThumbnail(mediaId, spec.width, spec.height, spec.type, spec.method);
    await writeFileDurably(path, data);
    await this.o.store.insertThumbnails(mediaId, [{ ...spec, length: data.length }]);
    return { path, mediaType: spec.type, length: data.length, uploadName: null };
  }
}

/**
 * The thumbnail a dynamic request really gets: animated WebP only when asked and possible; `scale`
 * keeps the aspect ratio; neither ever enlarges beyond the source (an oversized request must not
 * become an expensive upscale).
 */
export function exactSpec(image: ImageInfo, want: ThumbnailWanted, staticType: string): RenderSpec {
  const type = want.animated && image.canAnimate ? ANIMATED_THUMBNAIL_TYPE : staticType;
  if (want.method === 'scale') return { ...scaledSize(image.width, image.height, want.width, want.height), method: 'scale', type };
  const shrink = Math.min(1, image.width / want.width, image.height / want.height);
  return {
    width: Math.max(1, Math.floor(want.width * shrink)),
    height: Math.max(1, Math.floor(want.height * shrink)),
    method: 'crop',
    type,
  };
}
