import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  contentDisposition,
  contentTypeHeader,
  exactSpec,
  fitInside,
  generateMediaId,
  planThumbnails,
  sanitizeMediaType,
  selectThumbnail,
  sniffImageFormat,
  thumbnailTypeFor,
  DEFAULT_THUMBNAIL_SIZES,
  type StoredThumbnail,
} from '../src/index.ts';
import { writeFilesDurably } from '../src/durable-file.ts';

test('media IDs: 24 letters, all 52 letters used, no repeats', () => {
  const ids = Array.from({ length: 2000 }, () => generateMediaId());
  for (const id of ids) assert.match(id, /^[A-Za-z]{24}$/);
  assert.equal(new Set(ids).size, ids.length);
  assert.equal(new Set(ids.join('')).size, 52);
});

test('thumbnail types follow Synapse: JPEG for photos, PNG for GIF/PNG, nothing for the rest', () => {
  assert.equal(thumbnailTypeFor('image/jpeg'), 'image/jpeg');
  assert.equal(thumbnailTypeFor('IMAGE/WEBP; q=1'), 'image/jpeg');
  assert.equal(thumbnailTypeFor('image/gif'), 'image/png');
  assert.equal(thumbnailTypeFor('image/svg+xml'), undefined);
  assert.equal(thumbnailTypeFor('application/pdf'), undefined);
  assert.equal(thumbnailTypeFor('constructor'), undefined);
  assert.equal(thumbnailTypeFor(null), undefined);
});

test('fitInside keeps the aspect ratio and never reaches zero', () => {
  assert.deepEqual(fitInside(1000, 500, 320, 240), { width: 320, height: 160 });
  assert.deepEqual(fitInside(500, 1000, 320, 240), { width: 120, height: 240 });
  assert.deepEqual(fitInside(10000, 1, 32, 32), { width: 32, height: 1 });
});

test('planThumbnails: a scale landing on a crop size replaces the crop', () => {
  // A 96×96 source: the 320×240 scale is 96×96, same dimensions as the 96×96 crop.
  const plan = planThumbnails(96, 96, 'image/png', DEFAULT_THUMBNAIL_SIZES);
  assert.deepEqual(
    plan.map((p) => `${p.width}x${p.height} ${p.method}`),
    ['32x32 crop', '96x96 scale'],
  );
});

const T = (width: number, height: number, method: string, type = 'image/png', length = 100): StoredThumbnail => ({ width, height, method, type, length });

test('selectThumbnail: Synapse’s preferences', () => {
  const stored = [T(32, 32, 'crop'), T(96, 96, 'crop'), T(320, 240, 'scale'), T(640, 480, 'scale'), T(800, 600, 'scale')];
  const pick = (width: number, height: number, method: 'crop' | 'scale') => selectThumbnail({ width, height, method, animated: false }, stored);
  assert.deepEqual(pick(32, 32, 'crop'), T(32, 32, 'crop'));
  assert.deepEqual(pick(40, 40, 'crop'), T(96, 96, 'crop'));
  assert.deepEqual(pick(200, 200, 'crop'), T(96, 96, 'crop')); // nothing bigger: the closest smaller
  assert.deepEqual(pick(300, 200, 'scale'), T(320, 240, 'scale'));
  assert.deepEqual(pick(700, 500, 'scale'), T(800, 600, 'scale'));
  assert.equal(selectThumbnail({ width: 1, height: 1, method: 'crop', animated: false }, [T(10, 10, 'scale')]), undefined);
  // Equal size: the preferred type, then the smaller file.
  const typed = [T(96, 96, 'crop', 'image/jpeg', 10), T(96, 96, 'crop', 'image/png', 50)];
  assert.equal(selectThumbnail({ width: 96, height: 96, method: 'crop', animated: false }, typed)?.type, 'image/png');
});

test('selectThumbnail: animated thumbnails only when asked for', () => {
  const stored = [T(96, 96, 'crop', 'image/webp', 10), T(96, 96, 'crop', 'image/png', 500)];
  assert.equal(selectThumbnail({ width: 96, height: 96, method: 'crop', animated: true }, stored)?.type, 'image/webp');
  assert.equal(selectThumbnail({ width: 96, height: 96, method: 'crop', animated: false }, stored)?.type, 'image/png');
  assert.equal(selectThumbnail({ width: 96, height: 96, method: 'crop', animated: false }, [T(96, 96, 'crop', 'image/webp')]), undefined);
});

test('exactSpec never enlarges and only animates animatable images', () => {
  const img = { format: 'gif' as const, width: 600, height: 400, pages: 3, canAnimate: true };
  assert.deepEqual(exactSpec(img, { width: 6000, height: 3000, method: 'crop', animated: false }, 'image/png'), { width: 600, height: 300, method: 'crop', type: 'image/png' });
  assert.deepEqual(exactSpec(img, { width: 100, height: 100, method: 'scale', animated: true }, 'image/png'), { width: 100, height: 66, method: 'scale', type: 'image/webp' });
  assert.equal(exactSpec({ ...img, canAnimate: false }, { width: 10, height: 10, method: 'crop', animated: true }, 'image/png').type, 'image/png');
});

test('magic-byte sniffing', () => {
  assert.equal(sniffImageFormat(Buffer.from([0xff, 0xd8, 0xff, 0xe0])), 'jpeg');
  assert.equal(sniffImageFormat(Buffer.from('\x89PNG\r\n\x1a\n....', 'latin1')), 'png');
  assert.equal(sniffImageFormat(Buffer.from('GIF89a....')), 'gif');
  assert.equal(sniffImageFormat(Buffer.from('RIFF\0\0\0\0WEBPVP8 ')), 'webp');
  assert.equal(sniffImageFormat(Buffer.from('<svg')), undefined);
  assert.equal(sniffImageFormat(Buffer.from('II*\0')), undefined); // TIFF is not allowed in
  assert.equal(sniffImageFormat(Buffer.alloc(0)), undefined);
});

test('content headers', () => {
  assert.equal(contentTypeHeader('text/csv'), 'text/csv; charset=UTF-8');
  assert.equal(contentTypeHeader('text/plain; charset=UTF-16'), 'text/plain; charset=UTF-16');
  assert.equal(contentTypeHeader('image/png'), 'image/png');
  assert.equal(sanitizeMediaType('  image/png '), 'image/png');
  assert.equal(sanitizeMediaType('image/p\u00e9ng'), 'application/octet-stream');
  assert.equal(sanitizeMediaType(undefined), 'application/octet-stream');
  assert.equal(contentDisposition('image/svg+xml', 'a.svg'), 'attachment; filename=a.svg');
  assert.equal(contentDisposition('video/mp4; codecs=x', null), 'inline');
  assert.equal(contentDisposition('application/octet-stream', 'a b"c\r\n'), "attachment; filename*=utf-8''a%20b%22c%0D%0A");
  // Unpaired surrogates cannot break the header.
  assert.equal(contentDisposition('text/plain', 'x\ud800'), "inline; filename*=utf-8''x%EF%BF%BD");
});

test('durable writes leave whole files and no temporaries', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hs-durable-'));
  try {
    const a = path.join(dir, 'x', 'y', 'a');
    const b = path.join(dir, 'x', 'z', 'b');
    await writeFilesDurably([
      { path: a, data: Buffer.from('AAA') },
      { path: b, data: Buffer.from('BBB') },
    ]);
    assert.equal(fs.readFileSync(a, 'utf8'), 'AAA');
    assert.equal(fs.readFileSync(b, 'utf8'), 'BBB');
    await writeFilesDurably([{ path: a, data: Buffer.from('replaced') }]);
    assert.equal(fs.readFileSync(a, 'utf8'), 'replaced');
    assert.deepEqual(fs.readdirSync(path.dirname(a)), ['a']);
    // A failure part-way removes what it had written.
    await assert.rejects(writeFilesDurably([
      { path: path.join(dir, 'ok'), data: Buffer.from('1') },
      { path: path.join(a, 'under-a-file'), data: Buffer.from('2') },
    ]));
    assert.deepEqual(fs.readdirSync(dir).sort(), ['x']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
