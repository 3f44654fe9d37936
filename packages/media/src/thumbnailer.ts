/**
 * Image work, with sharp (libvips). Only JPEG, PNG, WebP and GIF are ever handed to the decoder, and
 * only after their magic bytes say so: every decoder we allow is attack surface, as Synapse notes for
 * Pillow. Pixel counts are checked before decoding and enforced again by `limitInputPixels`, so a
 * small file that inflates to gigapixels (a decompression bomb) is refused instead of eating memory.
 */
import fs from 'node:fs/promises';
import type { Metadata, OutputInfo, Sharp } from 'sharp';
import { ANIMATED_THUMBNAIL_TYPE, type ThumbnailMethod } from './thumbnail-sizes.ts';

type SharpFn = (typeof import('sharp'))['default'];
let loaded: Promise<SharpFn> | undefined;

/**
 * sharp (libvips, ~23 MB resident) is loaded on the first image, not at start-up: most processes of a
 * fleet never make a thumbnail.
 */
function loadSharp(): Promise<SharpFn> {
  return (loaded ??= import('sharp').then((m) => {
    // Operation results may stay cached, open files may not: a deleted file must not be read from cache.
    m.default.cache({ files: 0 });
    return m.default;
  }));
}

export type ImageFormat = 'jpeg' | 'png' | 'webp' | 'gif';
export type ImageSource = Buffer | string;

/** The format by magic bytes, or undefined for anything we do not decode. */
export function sniffImageFormat(head: Uint8Array): ImageFormat | undefined {
  const b = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 8 && b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'png';
  if (b.length >= 6 && (b.subarray(0, 6).toString('latin1') === 'GIF87a' || b.subarray(0, 6).toString('latin1') === 'GIF89a')) return 'gif';
  if (b.length >= 12 && b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP') return 'webp';
  return undefined;
}

async function readHead(source: ImageSource): Promise<Uint8Array> {
  if (Buffer.isBuffer(source)) return source.subarray(0, 16);
  const fh = await fs.open(source, 'r');
  try {
    const buf = Buffer.alloc(16);
    const { bytesRead } = await fh.read(buf, 0, 16, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

export interface ImageInfo {
  readonly format: ImageFormat;
  /** Display dimensions, after EXIF orientation. */
  readonly width: number;
  readonly height: number;
  /** Frames; more than one means animated. */
  readonly pages: number;
  /** Whether all frames together fit the pixel limit, so an animated thumbnail may be made. */
  readonly canAnimate: boolean;
}

export type ProbeResult =
  | { readonly ok: true; readonly image: ImageInfo }
  | { readonly ok: false; readonly reason: 'unsupported' | 'too_large' };

export interface RenderSpec {
  readonly width: number;
  readonly height: number;
  readonly method: ThumbnailMethod;
  /** image/jpeg, image/png, or image/webp (animated). */
  readonly type: string;
}

export class Thumbnailer {
  private readonly maxPixels: number;

  constructor(opts: { maxImagePixels: number }) {
    this.maxPixels = opts.maxImagePixels;
  }

  /** Read only the header: format, size, frames. Never decodes pixel data. */
  async probe(source: ImageSource): Promise<ProbeResult> {
    const format = sniffImageFormat(await readHead(source));
    if (!format) return { ok: false, reason: 'unsupported' };
    const sharp = await loadSharp();
    let meta: Metadata;
    try {
      meta = await sharp(source, { limitInputPixels: false }).metadata();
    } catch {
      return { ok: false, reason: 'unsupported' };
    }
    // libvips sniffs by content too; insist it agrees with the magic bytes we allowed.
    if (meta.format !== format || !meta.width || !meta.height) return { ok: false, reason: 'unsupported' };
    if (meta.width * meta.height >= this.maxPixels) return { ok: false, reason: 'too_large' };
    const pages = meta.pages ?? 1;
    const oriented = meta.autoOrient ?? { width: meta.width, height: meta.height };
    return {
      ok: true,
      image: { format, width: oriented.width, height: oriented.height, pages, canAnimate: pages > 1 && meta.width * meta.height * pages < this.maxPixels },
    };
  }

  private async open(source: ImageSource, animated: boolean): Promise<Sharp> {
    const sharp = await loadSharp();
    return sharp(source, { limitInputPixels: this.maxPixels, failOn: 'error', autoOrient: true, animated, sequentialRead: true });
  }

  /** Make one thumbnail. Animated output (WebP) keeps every frame and its timing. */
  async render(source: ImageSource, spec: RenderSpec): Promise<Buffer> {
    return encode(await this.open(source, spec.type === ANIMATED_THUMBNAIL_TYPE), spec);
  }

  /**
   * Make several thumbnails of one image. The static ones share a single decode, shrunk on load to
   * the smallest size every one of them can still be cut from (about twice as fast as decoding per
   * thumbnail); animated ones need every frame and are made from the source.
   */
  async renderMany(source: ImageSource, image: ImageInfo, specs: readonly RenderSpec[]): Promise<Buffer[]> {
    const statics = specs.filter((s) => s.type !== ANIMATED_THUMBNAIL_TYPE);
    let base: { data: Buffer; info: OutputInfo } | undefined;
    if (statics.length > 1) {
      // The fraction of the source the largest thumbnail needs (a crop needs its cover size).
      const f = Math.min(1, Math.max(...statics.map((s) => Math.max(s.width / image.width, s.height / image.height))));
      const width = Math.min(image.width, Math.ceil(image.width * f) + 1);
      const height = Math.min(image.height, Math.ceil(image.height * f) + 1);
      base = await (await this.open(source, false)).resize(width, height, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
    }
    const out: Buffer[] = [];
    for (const spec of specs) {
      if (base && spec.type !== ANIMATED_THUMBNAIL_TYPE) {
        const { width, height, channels } = base.info;
        const sharp = await loadSharp();
        out.push(await encode(sharp(base.data, { raw: { width, height, channels } }), spec));
      } else {
        out.push(await this.render(source, spec));
      }
    }
    return out;
  }
}

function encode(img: Sharp, spec: RenderSpec): Promise<Buffer> {
  const resized = img.resize(spec.width, spec.height, spec.method === 'crop' ? { fit: 'cover', position: 'centre' } : { fit: 'fill' });
  switch (spec.type) {
    case 'image/jpeg':
      return resized.flatten({ background: '#ffffff' }).jpeg({ quality: 80 }).toBuffer();
    case 'image/png':
      return resized.png().toBuffer();
    case ANIMATED_THUMBNAIL_TYPE:
      return resized.webp({ quality: 80 }).toBuffer();
    default:
      return Promise.reject(new Error(`cannot make ${spec.type} thumbnails`));
  }
}
