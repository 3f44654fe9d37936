/** A media repository on a fresh database and a temporary store, served over real HTTP. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { errors, silentLogger } from '@hs/core';
import type { Authenticator } from '@hs/http';
import { startTestApp } from '@hs/http/testing';
import { createTestDatabase, type TestDatabase } from '@hs/storage/testing';
import { createMediaHandlers, mediaEndpoints, type MediaDeps } from '../src/index.ts';

export const SERVER = 'media.test';

export interface MediaServer {
  readonly base: string;
  readonly db: TestDatabase;
  /** The media store root. */
  readonly store: string;
  close(): Promise<void>;
}

/** `Authorization: Bearer alice` is @alice:media.test, and so on; anything else is refused. */
export const authenticate: Authenticator = async (req) => {
  const h = req.headers.authorization;
  if (typeof h !== 'string') throw errors.missingToken();
  const m = /^Bearer ([a-z]+)$/.exec(h);
  if (!m) throw errors.unknownToken();
  return { userId: `@${m[1]}:${SERVER}`, deviceId: 'DEV', isGuest: false, isAdmin: false };
};

export async function startMediaServer(overrides: Partial<MediaDeps> = {}, shared?: TestDatabase): Promise<MediaServer> {
  const db = shared ?? (await createTestDatabase());
  // A parent directory of our own, so tests can plant files just outside the store.
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hs-media-'));
  const store = path.join(root, 'media_store');
  fs.mkdirSync(store);
  const handlers = createMediaHandlers({
    sql: db.sql,
    serverName: SERVER,
    mediaStorePath: store,
    maxUploadSize: 1024 * 1024,
    log: silentLogger,
    ...overrides,
  });
  const app = await startTestApp({ endpoints: mediaEndpoints, handlers, authenticate, resources: ['media'] });
  return {
    base: app.baseUrl,
    db,
    store,
    async close() {
      await app.close();
      if (!shared) await db.close();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

export function auth(user = 'alice'): Record<string, string> {
  return { Authorization: `Bearer ${user}` };
}

export async function upload(base: string, body: Uint8Array, contentType: string, opts: { user?: string; filename?: string } = {}): Promise<string> {
  const q = opts.filename !== undefined ? `?filename=${encodeURIComponent(opts.filename)}` : '';
  const res = await fetch(`${base}/_matrix/media/v3/upload${q}`, {
    method: 'POST',
    headers: { ...auth(opts.user), 'Content-Type': contentType },
    body,
  });
  const json = (await res.json()) as { content_uri?: string };
  if (res.status !== 200 || !json.content_uri) throw new Error(`upload failed: ${res.status} ${JSON.stringify(json)}`);
  return json.content_uri;
}

/** `mxc://server/id` → [server, id]. */
export function splitMxc(mxc: string): [string, string] {
  const m = /^mxc:\/\/([^/]+)\/([^/]+)$/.exec(mxc);
  if (!m) throw new Error(`not an MXC URI: ${mxc}`);
  return [m[1] as string, m[2] as string];
}

/** A photo-like test image (gradient plus noise so it does not compress to nothing). */
export async function makeImage(width: number, height: number, format: 'png' | 'jpeg' | 'webp'): Promise<Buffer> {
  const channels = 3;
  const raw = Buffer.alloc(width * height * channels);
  let seed = 12345;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const i = (y * width + x) * channels;
      raw[i] = (x * 255) / width;
      raw[i + 1] = (y * 255) / height;
      raw[i + 2] = seed & 0xff;
    }
  }
  const img = sharp(raw, { raw: { width, height, channels } });
  if (format === 'png') return img.png().toBuffer();
  if (format === 'jpeg') return img.jpeg({ quality: 90 }).toBuffer();
  return img.webp().toBuffer();
}

/** An animated GIF with `frames` solid-colour frames. */
export async function makeAnimatedGif(width: number, height: number, frames: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let f = 0; f < frames; f++) {
    parts.push(await sharp({ create: { width, height, channels: 3, background: { r: (f * 80) % 256, g: 40, b: 200 - f * 30 } } }).raw().toBuffer());
  }
  return sharp(Buffer.concat(parts), { raw: { width, height: height * frames, channels: 3, pageHeight: height } })
    .gif({ delay: new Array(frames).fill(100), loop: 0 })
    .toBuffer();
}
