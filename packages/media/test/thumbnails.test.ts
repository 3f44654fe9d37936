import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { SERVER, auth, makeAnimatedGif, makeImage, splitMxc, startMediaServer, upload, type MediaServer } from './helpers.ts';

let s: MediaServer;
test.before(async () => {
  s = await startMediaServer({ maxUploadSize: 4 * 1024 * 1024 });
});
test.after(() => s.close());

async function thumb(base: string, id: string, query: string): Promise<{ res: Response; bytes: Buffer }> {
  const res = await fetch(`${base}/_matrix/client/v1/media/thumbnail/${SERVER}/${id}?${query}`, { headers: auth() });
  return { res, bytes: Buffer.from(await res.arrayBuffer()) };
}

async function storedThumbs(id: string): Promise<string[]> {
  const rows = await s.db.sql<{ w: number; h: number; type: string; method: string }[]>`
    SELECT thumbnail_width AS w, thumbnail_height AS h, thumbnail_type AS type, thumbnail_method AS method
    FROM local_media_repository_thumbnails WHERE media_id = ${id} ORDER BY 1, 2, 3, 4`;
  return rows.map((r) => `${r.w}x${r.h} ${r.type} ${r.method}`).sort();
}

test('a PNG upload gets Synapse’s default thumbnails, stored in its layout', async () => {
  const png = await makeImage(1000, 500, 'png');
  const [, id] = splitMxc(await upload(s.base, png, 'image/png'));
  assert.deepEqual(await storedThumbs(id), [
    '320x160 image/png scale',
    '32x32 image/png crop',
    '640x320 image/png scale',
    '800x400 image/png scale',
    '96x96 image/png crop',
  ]);
  const dir = path.join(s.store, 'local_thumbnails', id.slice(0, 2), id.slice(2, 4), id.slice(4));
  assert.deepEqual(fs.readdirSync(dir).sort(), [
    '32-32-image-png-crop',
    '320-160-image-png-scale',
    '640-320-image-png-scale',
    '800-400-image-png-scale',
    '96-96-image-png-crop',
  ]);
  const meta = await sharp(fs.readFileSync(path.join(dir, '800-400-image-png-scale'))).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['png', 800, 400]);
});

test('crop returns the requested shape, scale keeps the aspect ratio', async () => {
  const jpeg = await makeImage(1200, 900, 'jpeg');
  const [, id] = splitMxc(await upload(s.base, jpeg, 'image/jpeg'));

  let { res, bytes } = await thumb(s.base, id, 'width=96&height=96&method=crop');
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'image/jpeg');
  assert.equal(res.headers.get('content-disposition'), 'inline; filename=thumbnail.jpg');
  assert.equal(res.headers.get('cross-origin-resource-policy'), 'cross-origin');
  let meta = await sharp(bytes).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 96, 96]);

  ({ res, bytes } = await thumb(s.base, id, 'width=320&height=240&method=scale'));
  meta = await sharp(bytes).metadata();
  assert.deepEqual([meta.width, meta.height], [320, 240]);

  // Not a stored size: the best stored one (Synapse's choice) — at least as large as asked.
  ({ res, bytes } = await thumb(s.base, id, 'width=500&height=300&method=scale'));
  meta = await sharp(bytes).metadata();
  assert.deepEqual([meta.width, meta.height], [640, 480]);
  ({ res, bytes } = await thumb(s.base, id, 'width=50&height=50&method=crop'));
  meta = await sharp(bytes).metadata();
  assert.deepEqual([meta.width, meta.height], [96, 96]);
  // Method defaults to scale.
  ({ res, bytes } = await thumb(s.base, id, 'width=10&height=10'));
  meta = await sharp(bytes).metadata();
  assert.deepEqual([meta.width, meta.height], [320, 240]);
  // Bigger than anything stored: the biggest.
  ({ res, bytes } = await thumb(s.base, id, 'width=2000&height=2000&method=scale'));
  meta = await sharp(bytes).metadata();
  assert.deepEqual([meta.width, meta.height], [800, 600]);
});

test('scale never enlarges a small image; its crops may (as Synapse)', async () => {
  const small = await makeImage(100, 50, 'png');
  const [, id] = splitMxc(await upload(s.base, small, 'image/png'));
  assert.deepEqual(await storedThumbs(id), ['100x50 image/png scale', '32x32 image/png crop', '96x96 image/png crop']);
  const { bytes } = await thumb(s.base, id, 'width=640&height=480&method=scale');
  const meta = await sharp(bytes).metadata();
  assert.deepEqual([meta.width, meta.height], [100, 50]);
});

test('WebP sources get JPEG thumbnails; EXIF orientation is applied', async () => {
  const webp = await makeImage(400, 200, 'webp');
  const [, id] = splitMxc(await upload(s.base, webp, 'image/webp'));
  const { res, bytes } = await thumb(s.base, id, 'width=320&height=240');
  assert.equal(res.headers.get('content-type'), 'image/jpeg');
  assert.deepEqual(await sharp(bytes).metadata().then((m) => [m.width, m.height]), [320, 160]);

  // A 400×200 JPEG tagged "rotate 90°" displays as 200×400.
  const rotated = await sharp(await makeImage(400, 200, 'jpeg')).withMetadata({ orientation: 6 }).jpeg().toBuffer();
  const [, rid] = splitMxc(await upload(s.base, rotated, 'image/jpeg'));
  const r = await thumb(s.base, rid, 'width=800&height=600');
  assert.deepEqual(await sharp(r.bytes).metadata().then((m) => [m.width, m.height]), [200, 400]);
});

test('non-images: no thumbnails, 400 M_UNKNOWN as Synapse', async () => {
  const [, id] = splitMxc(await upload(s.base, Buffer.from('%PDF-1.4 not really'), 'application/pdf'));
  assert.deepEqual(await storedThumbs(id), []);
  const { res, bytes } = await thumb(s.base, id, 'width=32&height=32');
  assert.equal(res.status, 400);
  assert.equal(JSON.parse(bytes.toString()).errcode, 'M_UNKNOWN');
  // Claiming image/png does not make text an image: the decoder never sees it.
  const [, fake] = splitMxc(await upload(s.base, Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'), 'image/png'));
  assert.deepEqual(await storedThumbs(fake), []);
  assert.equal((await thumb(s.base, fake, 'width=32&height=32')).res.status, 400);
  // SVG is not thumbnailed at all.
  const [, svg] = splitMxc(await upload(s.base, Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'), 'image/svg+xml'));
  assert.equal((await thumb(s.base, svg, 'width=32&height=32')).res.status, 400);
});

test('thumbnail parameters are validated: 400, never 500', async () => {
  const [, id] = splitMxc(await upload(s.base, await makeImage(64, 64, 'png'), 'image/png'));
  for (const [q, code] of [
    ['height=32', 'M_MISSING_PARAM'],
    ['width=32', 'M_MISSING_PARAM'],
    ['width=abc&height=32', 'M_INVALID_PARAM'],
    ['width=-5&height=32', 'M_INVALID_PARAM'],
    ['width=0&height=32', 'M_INVALID_PARAM'],
    ['width=32&height=32&method=stretch', 'M_INVALID_PARAM'],
    ['width=32&height=32&animated=yes', 'M_INVALID_PARAM'],
  ] as const) {
    const { res, bytes } = await thumb(s.base, id, q);
    assert.equal(res.status, 400, q);
    assert.equal(JSON.parse(bytes.toString()).errcode, code, q);
  }
  const { res } = await thumb(s.base, 'abcdefghijklmnopqrstuvwx', 'width=32&height=32');
  assert.equal(res.status, 404);
});

test('animated GIF: animated WebP only when animated=true, static PNG otherwise', async () => {
  const gif = await makeAnimatedGif(200, 100, 4);
  const [, id] = splitMxc(await upload(s.base, gif, 'image/gif'));
  const stored = await storedThumbs(id);
  assert.ok(stored.includes('96x96 image/webp crop'), stored.join());
  assert.ok(stored.includes('96x96 image/png crop'), stored.join());

  let { res, bytes } = await thumb(s.base, id, 'width=96&height=96&method=crop&animated=true');
  assert.equal(res.headers.get('content-type'), 'image/webp');
  let meta = await sharp(bytes, { animated: true }).metadata();
  assert.deepEqual([meta.format, meta.pages, meta.width, meta.pageHeight], ['webp', 4, 96, 96]);

  for (const q of ['width=96&height=96&method=crop&animated=false', 'width=96&height=96&method=crop']) {
    ({ res, bytes } = await thumb(s.base, id, q));
    assert.equal(res.headers.get('content-type'), 'image/png', q);
    meta = await sharp(bytes).metadata();
    assert.equal(meta.pages ?? 1, 1, q);
  }
  // animated=true on a still image behaves as animated=false.
  const [, still] = splitMxc(await upload(s.base, await makeImage(200, 100, 'png'), 'image/png'));
  ({ res } = await thumb(s.base, still, 'width=96&height=96&method=crop&animated=true'));
  assert.equal(res.headers.get('content-type'), 'image/png');
});

test('a deleted thumbnail file is regenerated on request', async () => {
  const [, id] = splitMxc(await upload(s.base, await makeImage(300, 300, 'png'), 'image/png'));
  const file = path.join(s.store, 'local_thumbnails', id.slice(0, 2), id.slice(2, 4), id.slice(4), '96-96-image-png-crop');
  fs.rmSync(file);
  const { res, bytes } = await thumb(s.base, id, 'width=96&height=96&method=crop');
  assert.equal(res.status, 200);
  assert.deepEqual(await sharp(bytes).metadata().then((m) => [m.width, m.height]), [96, 96]);
  assert.ok(fs.existsSync(file));
});

test('dynamic thumbnails: exact sizes made on demand and stored; oversized requests never upscale', async () => {
  const d = await startMediaServer({ dynamicThumbnails: true, maxUploadSize: 4 * 1024 * 1024 }, s.db);
  try {
    const [, id] = splitMxc(await upload(d.base, await makeImage(600, 400, 'jpeg'), 'image/jpeg'));
    let { res, bytes } = await thumb(d.base, id, 'width=50&height=70&method=crop');
    assert.equal(res.status, 200);
    assert.deepEqual(await sharp(bytes).metadata().then((m) => [m.format, m.width, m.height]), ['jpeg', 50, 70]);
    ({ bytes } = await thumb(d.base, id, 'width=150&height=150&method=scale'));
    assert.deepEqual(await sharp(bytes).metadata().then((m) => [m.width, m.height]), [150, 100]);
    assert.ok((await storedThumbs(id)).includes('50x70 image/jpeg crop'));
    // A 6000×6000 crop of a 600×400 image comes back no bigger than the source.
    ({ res, bytes } = await thumb(d.base, id, 'width=6000&height=6000&method=crop'));
    assert.equal(res.status, 200);
    assert.deepEqual(await sharp(bytes).metadata().then((m) => [m.width, m.height]), [400, 400]);
    // Non-images still refuse.
    const [, pdf] = splitMxc(await upload(d.base, Buffer.from('%PDF'), 'application/pdf'));
    assert.equal((await thumb(d.base, pdf, 'width=32&height=32')).res.status, 400);
  } finally {
    await d.close();
  }
});

test('decompression-bomb guard: images over maxImagePixels are not decoded', async () => {
  const g = await startMediaServer({ maxImagePixels: 100 * 100, dynamicThumbnails: true, maxUploadSize: 4 * 1024 * 1024 }, s.db);
  try {
    const [, big] = splitMxc(await upload(g.base, await makeImage(200, 200, 'png'), 'image/png'));
    assert.deepEqual(await storedThumbs(big), []);
    const { res, bytes } = await thumb(g.base, big, 'width=32&height=32&method=crop');
    assert.equal(res.status, 413);
    assert.equal(JSON.parse(bytes.toString()).errcode, 'M_TOO_LARGE');
    // Just under the limit is fine.
    const [, ok] = splitMxc(await upload(g.base, await makeImage(99, 100, 'png'), 'image/png'));
    assert.equal((await thumb(g.base, ok, 'width=32&height=32&method=crop')).res.status, 200);
  } finally {
    await g.close();
  }
});
