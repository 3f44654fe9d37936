/**
 * Media repository throughput over real HTTP and a real database: uploads of ~100 KB files (plain
 * bytes, and JPEG/PNG images, which also get their five thumbnails made), then thumbnail requests
 * served from the stored set and made to measure. Run: node packages/media/bench/media.bench.ts
 */
import { auth, makeImage, splitMxc, startMediaServer, upload, SERVER, type MediaServer } from '../test/helpers.ts';
import { randomBytes } from 'node:crypto';

const CONCURRENCY = 4;

async function run(label: string, count: number, bytesEach: number, op: (i: number) => Promise<number | void>): Promise<void> {
  for (let i = 0; i < 3; i++) await op(-1 - i); // warm-up
  let next = 0;
  let bytes = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) {
        const i = next++;
        const n = await op(i);
        bytes += typeof n === 'number' ? n : bytesEach;
      }
    }),
  );
  const secs = (performance.now() - started) / 1000;
  console.log(
    `${label.padEnd(44)} ${String(count).padStart(4)} files  ${(count / secs).toFixed(1).padStart(7)} files/s  ${(bytes / secs / 1e6).toFixed(2).padStart(7)} MB/s`,
  );
}

async function main(): Promise<void> {
  const jpeg = await makeImage(720, 540, 'jpeg');
  const png = await makeImage(272, 204, 'png');
  const blob = randomBytes(100 * 1024);
  console.log(`inputs: jpeg 720x540 ${(jpeg.length / 1024).toFixed(0)} KB, png 272x204 ${(png.length / 1024).toFixed(0)} KB, blob ${(blob.length / 1024).toFixed(0)} KB; concurrency ${CONCURRENCY}`);

  const s: MediaServer = await startMediaServer({ maxUploadSize: 10 * 1024 * 1024 });
  const d: MediaServer = await startMediaServer({ maxUploadSize: 10 * 1024 * 1024, dynamicThumbnails: true }, s.db);
  try {
    await run('upload 100 KB octet-stream (no thumbnails)', 200, blob.length, () => upload(s.base, blob, 'application/octet-stream').then(() => undefined));
    await run('upload 100 KB JPEG (+5 thumbnails)', 60, jpeg.length, () => upload(s.base, jpeg, 'image/jpeg').then(() => undefined));
    await run('upload 100 KB PNG (+5 thumbnails)', 60, png.length, () => upload(s.base, png, 'image/png').then(() => undefined));

    const [, id] = splitMxc(await upload(s.base, jpeg, 'image/jpeg'));
    const fetchThumb = async (base: string, q: string) => {
      const res = await fetch(`${base}/_matrix/client/v1/media/thumbnail/${SERVER}/${id}?${q}`, { headers: auth() });
      const n = (await res.arrayBuffer()).byteLength;
      if (res.status !== 200) throw new Error(`thumbnail ${q}: ${res.status}`);
      return n;
    };
    await run('thumbnail 96x96 crop (stored)', 400, 0, () => fetchThumb(s.base, 'width=96&height=96&method=crop'));
    await run('thumbnail 640x480 scale (stored)', 400, 0, () => fetchThumb(s.base, 'width=640&height=480&method=scale'));
    await run('download 100 KB JPEG original', 400, jpeg.length, async () => {
      const res = await fetch(`${s.base}/_matrix/client/v1/media/download/${SERVER}/${id}`, { headers: auth() });
      return (await res.arrayBuffer()).byteLength;
    });

    const [, did] = splitMxc(await upload(d.base, jpeg, 'image/jpeg'));
    await run('thumbnail made to measure (dynamic, new size)', 100, 0, async (i) => {
      const w = 100 + ((i + 10) % 300);
      const res = await fetch(`${d.base}/_matrix/client/v1/media/thumbnail/${SERVER}/${did}?width=${w}&height=${w}&method=crop`, { headers: auth() });
      if (res.status !== 200) throw new Error(`dynamic thumbnail: ${res.status}`);
      return (await res.arrayBuffer()).byteLength;
    });
  } finally {
    await d.close();
    await s.close();
  }
}

await main();
