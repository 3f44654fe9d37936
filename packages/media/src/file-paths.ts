/**
 * Where files live in the media store, in Synapse's layout so an existing `media_store` can be reused:
 *
 *   local_content/ab/cd/efghijklmnopqrstuvwx
 *   local_thumbnails/ab/cd/efghijklmnopqrstuvwx/320-240-image-jpeg-scale
 *
 * Every component is checked, and the final path must still lie inside the store: a bad ID can only
 * ever produce an `UnsafePathError`, never a path elsewhere on disk.
 */
import path from 'node:path';
import { isSafePathComponent } from './media-id.ts';

export class UnsafePathError extends Error {
  constructor(what: string) {
    super(`unsafe media store path component: ${JSON.stringify(what)}`);
    this.name = 'UnsafePathError';
  }
}

function component(s: string): string {
  if (!isSafePathComponent(s)) throw new UnsafePathError(s);
  return s;
}

export class MediaFilePaths {
  readonly base: string;

  constructor(base: string) {
    this.base = path.resolve(base);
  }

  private jailed(...parts: string[]): string {
    const full = path.join(this.base, ...parts.map(component));
    if (!full.startsWith(this.base + path.sep)) throw new UnsafePathError(parts.join('/'));
    return full;
  }

  private static split(mediaId: string): [string, string, string] {
    return [mediaId.slice(0, 2), mediaId.slice(2, 4), mediaId.slice(4)];
  }

  /** The file holding a local upload. */
  localContent(mediaId: string): string {
    return this.jailed('local_content', ...MediaFilePaths.split(mediaId));
  }

  /** The directory holding a local upload's thumbnails. */
  localThumbnailDir(mediaId: string): string {
    return this.jailed('local_thumbnails', ...MediaFilePaths.split(mediaId));
  }

  /** One thumbnail file, named `{w}-{h}-{top}-{sub}-{method}` like Synapse's. */
  localThumbnail(mediaId: string, width: number, height: number, type: string, method: string): string {
    const [top, sub, ...rest] = type.split('/');
    if (!top || !sub || rest.length > 0 || !Number.isSafeInteger(width) || !Number.isSafeInteger(height)) {
      throw new UnsafePathError(`${width}-${height}-${type}-${method}`);
    }
    return this.jailed('local_thumbnails', ...MediaFilePaths.split(mediaId), `${width}-${height}-${top}-${sub}-${method}`);
  }
}
