/**
 * Which thumbnails exist and which one answers a request — pure arithmetic, no image work. The
 * choices follow Synapse so that a media store moved between the two serves the same thumbnails.
 */

export type ThumbnailMethod = 'crop' | 'scale';

export interface ThumbnailSize {
  readonly width: number;
  readonly height: number;
  readonly method: ThumbnailMethod;
}

/** Synapse's default `thumbnail_sizes`. */
export const DEFAULT_THUMBNAIL_SIZES: readonly ThumbnailSize[] = [
  { width: 32, height: 32, method: 'crop' },
  { width: 96, height: 96, method: 'crop' },
  { width: 320, height: 240, method: 'scale' },
  { width: 640, height: 480, method: 'scale' },
  { width: 800, height: 600, method: 'scale' },
];

/** Animated thumbnails are always WebP, and only animated thumbnails are. */
export const ANIMATED_THUMBNAIL_TYPE = 'image/webp';

/**
 * Media types we thumbnail, and the static thumbnail type for each: JPEG for photos, PNG where
 * transparency may matter. Anything else (SVG, PDF, video...) gets no thumbnails.
 */
const THUMBNAIL_TYPE_FOR: Readonly<Record<string, string>> = {
  'image/jpeg': 'image/jpeg',
  'image/jpg': 'image/jpeg',
  'image/webp': 'image/jpeg',
  'image/gif': 'image/png',
  'image/png': 'image/png',
};

/** The static thumbnail type for a media type (parameters ignored), or undefined if not thumbnailable. */
export function thumbnailTypeFor(mediaType: string | null): string | undefined {
  if (!mediaType) return undefined;
  const base = mediaType.split(';', 1)[0]?.trim().toLowerCase() ?? '';
  return Object.hasOwn(THUMBNAIL_TYPE_FOR, base) ? THUMBNAIL_TYPE_FOR[base] : undefined;
}

/** The largest size with the source's aspect ratio that fits the box (never below 1 pixel). */
export function fitInside(srcWidth: number, srcHeight: number, maxWidth: number, maxHeight: number): { width: number; height: number } {
  if (maxWidth * srcHeight < maxHeight * srcWidth) {
    return { width: maxWidth, height: Math.max(Math.floor((maxWidth * srcHeight) / srcWidth), 1) };
  }
  return { width: Math.max(Math.floor((maxHeight * srcWidth) / srcHeight), 1), height: maxHeight };
}

/** The dimensions a `scale` thumbnail of this box really has: aspect kept, never larger than the source. */
export function scaledSize(srcWidth: number, srcHeight: number, boxWidth: number, boxHeight: number): { width: number; height: number } {
  const fit = fitInside(srcWidth, srcHeight, boxWidth, boxHeight);
  return { width: Math.min(srcWidth, fit.width), height: Math.min(srcHeight, fit.height) };
}

export interface PlannedThumbnail {
  readonly width: number;
  readonly height: number;
  readonly method: ThumbnailMethod;
  readonly type: string;
}

/**
 * The thumbnails to make on upload for an image of this size. A scaled size that lands on the same
 * dimensions as a cropped one replaces it (the image already has that shape), as Synapse does.
 */
export function planThumbnails(srcWidth: number, srcHeight: number, type: string, sizes: readonly ThumbnailSize[]): PlannedThumbnail[] {
  const byDims = new Map<string, PlannedThumbnail>();
  for (const size of sizes) {
    if (size.method === 'crop') {
      const key = `${size.width}x${size.height}`;
      if (!byDims.has(key)) byDims.set(key, { width: size.width, height: size.height, method: 'crop', type });
    } else {
      const dims = scaledSize(srcWidth, srcHeight, size.width, size.height);
      byDims.set(`${dims.width}x${dims.height}`, { ...dims, method: 'scale', type });
    }
  }
  return [...byDims.values()];
}

export interface StoredThumbnail {
  readonly width: number;
  readonly height: number;
  readonly method: string;
  readonly type: string;
  readonly length: number;
}

export interface ThumbnailWanted {
  readonly width: number;
  readonly height: number;
  readonly method: ThumbnailMethod;
  readonly animated: boolean;
}

/** Lexicographic comparison of equal-length number tuples. */
function lessThan(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    if (x !== y) return x < y;
  }
  return false;
}

/**
 * Synapse's choice among stored thumbnails: only the requested method; prefer ones at least as big as
 * asked (in one dimension), then (for crop) the closest aspect ratio, then the closest size, then the
 * preferred type, then the smallest file; ties keep the earlier one. Animated thumbnails are
 * candidates only when `animated` was asked for (the spec forbids them otherwise).
 */
export function selectThumbnail<T extends StoredThumbnail>(want: ThumbnailWanted, stored: readonly T[]): T | undefined {
  const desiredType = want.animated ? ANIMATED_THUMBNAIL_TYPE : 'image/png';
  const dw = want.width;
  const dh = want.height;
  let bestBig: { key: number[]; info: T } | undefined;
  let bestSmall: { key: number[]; info: T } | undefined;
  for (const info of stored) {
    if (info.method !== want.method) continue;
    if (!want.animated && info.type === ANIMATED_THUMBNAIL_TYPE) continue;
    const tw = info.width;
    const th = info.height;
    const sizeQuality = Math.abs((dw - tw) * (dh - th));
    const typeQuality = info.type === desiredType ? 0 : 1;
    const key =
      want.method === 'crop'
        ? [Math.abs(dw * th - dh * tw), dw <= tw && dh <= th ? 0 : 1, sizeQuality, typeQuality, info.length]
        : [sizeQuality, typeQuality, info.length];
    const big = tw >= dw || th >= dh;
    const current = big ? bestBig : bestSmall;
    if (!current || lessThan(key, current.key)) {
      if (big) bestBig = { key, info };
      else bestSmall = { key, info };
    }
  }
  return (bestBig ?? bestSmall)?.info;
}
