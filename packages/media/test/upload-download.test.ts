import test from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { MEDIA_CSP } from '../src/index.ts';
import { SERVER, auth, splitMxc, startMediaServer, upload, type MediaServer } from './helpers.ts';

let s: MediaServer;
test.before(async () => {
  s = await startMediaServer({ maxUploadSize: 64 * 1024 });
});
test.after(() => s.close());

const dl = (server: string, id: string, suffix = '') => `${s.base}/_matrix/client/v1/media/download/${server}/${id}${suffix}`;

test('upload then download returns identical bytes and Synapse headers', async () => {
  const bytes = randomBytes(40_000);
  const mxc = await upload(s.base, bytes, 'application/pdf', { filename: 'report.pdf' });
  const [server, id] = splitMxc(mxc);
  assert.equal(server, SERVER);
  assert.match(id, /^[A-Za-z]{24}$/);

  const res = await fetch(dl(server, id), { headers: auth('bob') });
  assert.equal(res.status, 200);
  assert.deepEqual(Buffer.from(await res.arrayBuffer()), bytes);
  assert.equal(res.headers.get('content-type'), 'application/pdf');
  assert.equal(res.headers.get('content-length'), String(bytes.length));
  // PDF is not in the inline list: forced download.
  assert.equal(res.headers.get('content-disposition'), 'attachment; filename=report.pdf');
  assert.equal(res.headers.get('content-security-policy'), MEDIA_CSP);
  assert.match(MEDIA_CSP, /^sandbox; default-src 'none'; script-src 'none'; plugin-types application\/pdf; style-src 'unsafe-inline';/);
  assert.equal(res.headers.get('cross-origin-resource-policy'), 'cross-origin');
  assert.equal(res.headers.get('cache-control'), 'public,max-age=86400,s-maxage=0,proxy-revalidate');
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(res.headers.get('access-control-allow-origin'), '*');
});

test('the file sits in Synapse layout and the metadata row says what was uploaded', async () => {
  const bytes = Buffer.from('hello, world');
  const [, id] = splitMxc(await upload(s.base, bytes, 'text/plain', { filename: 'greeting.txt' }));
  const file = path.join(s.store, 'local_content', id.slice(0, 2), id.slice(2, 4), id.slice(4));
  assert.deepEqual(fs.readFileSync(file), bytes);
  // No temporary files left next to it.
  assert.deepEqual(fs.readdirSync(path.dirname(file)).filter((f) => f.endsWith('.tmp')), []);
  const rows = await s.db.sql`SELECT media_type, media_length, upload_name, user_id, authenticated, sha256 FROM local_media_repository WHERE media_id = ${id}`;
  assert.deepEqual({ ...rows[0] }, {
    media_type: 'text/plain',
    media_length: bytes.length,
    upload_name: 'greeting.txt',
    user_id: `@alice:${SERVER}`,
    authenticated: true,
    sha256: '09ca7e4eaa6e8ae9c7d261167129184883644d07dfba7cbfbc4c8a2e08360d5b',
  });
  const res = await fetch(dl(SERVER, id), { headers: auth() });
  // Text gets a charset; plain text is safe inline.
  assert.equal(res.headers.get('content-type'), 'text/plain; charset=UTF-8');
  assert.equal(res.headers.get('content-disposition'), 'inline; filename=greeting.txt');
  assert.equal(await res.text(), 'hello, world');
});

test('upload without Content-Type or filename: octet-stream, attachment without a name', async () => {
  const res0 = await fetch(`${s.base}/_matrix/media/v3/upload`, { method: 'POST', headers: auth(), body: new Uint8Array([1, 2, 3]) });
  assert.equal(res0.status, 200);
  const [, id] = splitMxc(((await res0.json()) as { content_uri: string }).content_uri);
  const res = await fetch(dl(SERVER, id), { headers: auth() });
  assert.equal(res.headers.get('content-type'), 'application/octet-stream');
  assert.equal(res.headers.get('content-disposition'), 'attachment');
});

test('the Content-Type comes back exactly as uploaded, however unusual', async () => {
  for (const type of ['weird', 'png', 'image/svg+xml', 'application/x-thing; foo=bar']) {
    const [, id] = splitMxc(await upload(s.base, Buffer.from('z'), type));
    const res = await fetch(dl(SERVER, id), { headers: auth() });
    assert.equal(res.headers.get('content-type'), type === 'image/svg+xml' ? 'image/svg+xml; charset=UTF-8' : type);
  }
});

test('HTML is never served inline', async () => {
  const [, id] = splitMxc(await upload(s.base, Buffer.from('<script>alert(1)</script>'), 'text/html', { filename: 'x.html' }));
  const res = await fetch(dl(SERVER, id), { headers: auth() });
  assert.equal(res.headers.get('content-type'), 'text/html; charset=UTF-8');
  assert.equal(res.headers.get('content-disposition'), 'attachment; filename=x.html');
  assert.equal(res.headers.get('content-security-policy'), MEDIA_CSP);
});

test('download with a file name overrides the stored one; non-token names use RFC 6266 filename*', async () => {
  const [, id] = splitMxc(await upload(s.base, Buffer.from('abc'), 'image/png', { filename: 'orig.png' }));
  let res = await fetch(dl(SERVER, id, '/other.png'), { headers: auth() });
  assert.equal(res.headers.get('content-disposition'), 'inline; filename=other.png');
  res = await fetch(dl(SERVER, id, `/${encodeURIComponent('naïve résumé (1).png')}`), { headers: auth() });
  assert.equal(res.headers.get('content-disposition'), "inline; filename*=utf-8''na%C3%AFve%20r%C3%A9sum%C3%A9%20%281%29.png");
  // A stored non-ASCII name comes back byte for byte.
  const [, id2] = splitMxc(await upload(s.base, Buffer.from('x'), 'application/zip', { filename: '日本語.zip' }));
  res = await fetch(dl(SERVER, id2), { headers: auth() });
  assert.equal(res.headers.get('content-disposition'), "attachment; filename*=utf-8''%E6%97%A5%E6%9C%AC%E8%AA%9E.zip");
});

test('empty uploads are allowed, as in Synapse', async () => {
  const [, id] = splitMxc(await upload(s.base, new Uint8Array(0), 'text/plain'));
  const res = await fetch(dl(SERVER, id), { headers: auth() });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-length'), '0');
  assert.equal((await res.arrayBuffer()).byteLength, 0);
});

test('uploads over maxUploadSize answer 413 M_TOO_LARGE, exact size is fine', async () => {
  await upload(s.base, new Uint8Array(64 * 1024), 'application/octet-stream');
  const res = await fetch(`${s.base}/_matrix/media/v3/upload`, { method: 'POST', headers: auth(), body: new Uint8Array(64 * 1024 + 1) });
  assert.equal(res.status, 413);
  assert.equal(((await res.json()) as { errcode: string }).errcode, 'M_TOO_LARGE');
  // Chunked, no Content-Length: caught once the bytes are counted.
  const chunks = [new Uint8Array(40 * 1024), new Uint8Array(40 * 1024)];
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      const next = chunks.shift();
      if (next) c.enqueue(next);
      else c.close();
    },
  });
  const res2 = await fetch(`${s.base}/_matrix/media/v3/upload`, { method: 'POST', headers: auth(), body: stream, duplex: 'half' } as RequestInit);
  assert.equal(res2.status, 413);
  assert.equal(((await res2.json()) as { errcode: string }).errcode, 'M_TOO_LARGE');
  // Nothing was recorded for the refused uploads.
  const big = await s.db.sql`SELECT count(*)::int AS n FROM local_media_repository WHERE media_length > ${64 * 1024}`;
  assert.equal(big[0]?.n, 0);
});

test('legacy r0 and v1 upload prefixes work like v3', async () => {
  for (const v of ['r0', 'v1']) {
    const res = await fetch(`${s.base}/_matrix/media/${v}/upload`, { method: 'POST', headers: { ...auth(), 'Content-Type': 'text/plain' }, body: 'x' });
    assert.equal(res.status, 200, v);
    assert.match(((await res.json()) as { content_uri: string }).content_uri, /^mxc:\/\/media\.test\/[A-Za-z]{24}$/);
  }
});

test('authentication: upload and v1 download/thumbnail/config need a token', async () => {
  const [, id] = splitMxc(await upload(s.base, Buffer.from('secret'), 'text/plain'));
  for (const [method, url] of [
    ['POST', `${s.base}/_matrix/media/v3/upload`],
    ['POST', `${s.base}/_matrix/media/v1/create`],
    ['GET', dl(SERVER, id)],
    ['GET', dl(SERVER, id, '/name.txt')],
    ['GET', `${s.base}/_matrix/client/v1/media/thumbnail/${SERVER}/${id}?width=32&height=32`],
    ['GET', `${s.base}/_matrix/client/v1/media/config`],
  ] as const) {
    const res = await fetch(url, { method, ...(method === 'POST' ? { body: 'x' } : {}) });
    assert.equal(res.status, 401, url);
    assert.equal(((await res.json()) as { errcode: string }).errcode, 'M_MISSING_TOKEN', url);
  }
  const bad = await fetch(dl(SERVER, id), { headers: { Authorization: 'Bearer 123' } });
  assert.equal(bad.status, 401);
});

test('config reports the upload limit on v1 and legacy paths', async () => {
  for (const url of [`${s.base}/_matrix/client/v1/media/config`, `${s.base}/_matrix/media/v3/config`, `${s.base}/_matrix/media/r0/config`]) {
    const res = await fetch(url, { headers: auth() });
    assert.equal(res.status, 200, url);
    assert.deepEqual(await res.json(), { 'm.upload.size': 64 * 1024 });
  }
});

test('unknown media → 404 M_NOT_FOUND; remote server → 404 M_NOT_FOUND with a clear message', async () => {
  let res = await fetch(dl(SERVER, 'abcdefghijklmnopqrstuvwx'), { headers: auth() });
  assert.equal(res.status, 404);
  assert.equal(((await res.json()) as { errcode: string }).errcode, 'M_NOT_FOUND');
  for (const url of [dl('matrix.org', 'abcdefghijklmnopqrstuvwx'), `${s.base}/_matrix/client/v1/media/thumbnail/matrix.org:8448/abcdef?width=1&height=1`]) {
    res = await fetch(url, { headers: auth() });
    assert.equal(res.status, 404, url);
    const body = (await res.json()) as { errcode: string; error: string };
    assert.equal(body.errcode, 'M_NOT_FOUND');
    assert.match(body.error, /remote media/);
  }
});

test('a remote fetcher, when plugged in, serves remote MXCs', async () => {
  const file = path.join(s.store, 'remote-file');
  fs.writeFileSync(file, 'remote bytes');
  const seen: string[] = [];
  const r = await startMediaServer(
    {
      remoteMedia: {
        async fetchMedia(req) {
          seen.push(`${req.serverName}/${req.mediaId}`);
          return req.mediaId === 'known' ? { path: file, mediaType: 'text/plain', length: 12, uploadName: 'r.txt' } : null;
        },
        async fetchThumbnail() {
          return null;
        },
      },
    },
    s.db,
  );
  try {
    let res = await fetch(`${r.base}/_matrix/client/v1/media/download/other.example/known`, { headers: auth() });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'remote bytes');
    assert.equal(res.headers.get('content-disposition'), 'inline; filename=r.txt');
    res = await fetch(`${r.base}/_matrix/client/v1/media/download/other.example/unknown`, { headers: auth() });
    assert.equal(res.status, 404);
    // The frozen legacy door never fetches remote media.
    res = await fetch(`${r.base}/_matrix/media/v3/download/other.example/known`);
    assert.equal(res.status, 404);
    assert.deepEqual(seen, ['other.example/known', 'other.example/unknown']);
  } finally {
    await r.close();
  }
});

test('conditional requests get 304 after access checks; HEAD sends headers only', async () => {
  const [, id] = splitMxc(await upload(s.base, Buffer.from('cached'), 'text/plain'));
  let res = await fetch(dl(SERVER, id), { headers: auth() });
  assert.equal(res.headers.get('etag'), '1');
  await res.arrayBuffer();
  res = await fetch(dl(SERVER, id), { headers: { ...auth(), 'If-None-Match': '1' } });
  assert.equal(res.status, 304);
  // Unknown media is still 404, whatever the client has cached.
  res = await fetch(dl(SERVER, 'zzzzzzzzzzzzzzzzzzzzzzzz'), { headers: { ...auth(), 'If-None-Match': '1' } });
  assert.equal(res.status, 404);
  res = await fetch(dl(SERVER, id), { method: 'HEAD', headers: auth() });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-length'), '6');
  assert.equal((await res.arrayBuffer()).byteLength, 0);
});

test('legacy unauthenticated download: frozen for authenticated media, serves media from before the freeze', async () => {
  const [, id] = splitMxc(await upload(s.base, Buffer.from('new'), 'text/plain'));
  let res = await fetch(`${s.base}/_matrix/media/v3/download/${SERVER}/${id}`);
  assert.equal(res.status, 404);
  assert.equal(((await res.json()) as { errcode: string }).errcode, 'M_NOT_FOUND');
  res = await fetch(`${s.base}/_matrix/media/v3/thumbnail/${SERVER}/${id}?width=32&height=32`);
  assert.equal(res.status, 404);
  // Media uploaded before authenticated media was enforced (authenticated = false) stays reachable.
  const [, old] = splitMxc(await upload(s.base, Buffer.from('old media'), 'text/plain', { filename: 'old.txt' }));
  await s.db.sql`UPDATE local_media_repository SET authenticated = false WHERE media_id = ${old}`;
  for (const url of [`${s.base}/_matrix/media/v3/download/${SERVER}/${old}`, `${s.base}/_matrix/media/r0/download/${SERVER}/${old}/x.txt`]) {
    res = await fetch(url);
    assert.equal(res.status, 200, url);
    assert.equal(await res.text(), 'old media');
  }
  // And the authenticated API serves both.
  res = await fetch(dl(SERVER, id), { headers: auth() });
  assert.equal(res.status, 200);
  // allow_remote=false refuses remote media on the legacy door.
  res = await fetch(`${s.base}/_matrix/media/v3/download/other.example/abcdef?allow_remote=false`);
  assert.equal(res.status, 404);
});

test('with enableAuthenticatedMedia off, new uploads are served by the legacy endpoints too', async () => {
  const r = await startMediaServer({ enableAuthenticatedMedia: false }, s.db);
  try {
    const [, id] = splitMxc(await upload(r.base, Buffer.from('open'), 'text/plain'));
    const res = await fetch(`${r.base}/_matrix/media/v3/download/${SERVER}/${id}`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'open');
  } finally {
    await r.close();
  }
});

test('quarantined media is not served, and re-uploads of quarantined content are quarantined', async () => {
  const bytes = randomBytes(100);
  const [, id] = splitMxc(await upload(s.base, bytes, 'application/octet-stream'));
  await s.db.sql`UPDATE local_media_repository SET quarantined_by = '@admin:media.test' WHERE media_id = ${id}`;
  let res = await fetch(dl(SERVER, id), { headers: auth() });
  assert.equal(res.status, 404);
  const [, again] = splitMxc(await upload(s.base, bytes, 'application/octet-stream', { user: 'bob' }));
  res = await fetch(dl(SERVER, again), { headers: auth() });
  assert.equal(res.status, 404);
  const rows = await s.db.sql`SELECT quarantined_by FROM local_media_repository WHERE media_id = ${again}`;
  assert.equal(rows[0]?.quarantined_by, 'system');
});

test('bad query parameters and file names are 400, never 500', async () => {
  const [, id] = splitMxc(await upload(s.base, Buffer.from('q'), 'text/plain'));
  let res = await fetch(dl(SERVER, id, '?timeout_ms=soon'), { headers: auth() });
  assert.equal(res.status, 400);
  assert.equal(((await res.json()) as { errcode: string }).errcode, 'M_INVALID_PARAM');
  res = await fetch(`${s.base}/_matrix/media/v3/upload?filename=a%00b`, { method: 'POST', headers: auth(), body: 'x' });
  assert.equal(res.status, 400);
  res = await fetch(`${s.base}/_matrix/media/v3/download/other.example/abcdef?allow_remote=maybe`);
  assert.equal(res.status, 400);
});

test('the file missing from disk is a 404, not a broken response', async () => {
  const [, id] = splitMxc(await upload(s.base, Buffer.from('gone'), 'text/plain'));
  fs.rmSync(path.join(s.store, 'local_content', id.slice(0, 2), id.slice(2, 4), id.slice(4)));
  const res = await fetch(dl(SERVER, id), { headers: auth() });
  assert.equal(res.status, 404);
  assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
});
