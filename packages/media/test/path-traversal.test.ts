import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { MediaFilePaths, UnsafePathError, isPlausibleLocalMediaId, isValidServerName } from '../src/index.ts';
import { SERVER, splitMxc, startMediaServer, upload, type MediaServer } from './helpers.ts';

let s: MediaServer;
const SECRET = 'TOP-SECRET-OUTSIDE-THE-STORE';
test.before(async () => {
  s = await startMediaServer();
  // Files an attacker would love to reach: next to the store, and in a fake "local_content" shape outside it.
  const parent = path.dirname(s.store);
  fs.writeFileSync(path.join(parent, 'secret'), SECRET);
  fs.mkdirSync(path.join(parent, 'ab', 'cd'), { recursive: true });
  fs.writeFileSync(path.join(parent, 'ab', 'cd', 'secret'), SECRET);
});
test.after(() => s.close());

/** A raw request: no URL normalisation on the client side, the path goes out exactly as written. */
function rawGet(p: string): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  const url = new URL(s.base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: p, method: 'GET', headers: { Authorization: 'Bearer alice' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('traversal attempts in serverName, mediaId and fileName never reach a file outside the store', async () => {
  const [, id] = splitMxc(await upload(s.base, Buffer.from('inside'), 'text/plain'));
  const attempts = [
    `/_matrix/client/v1/media/download/..%2F..%2F/secret`,
    `/_matrix/client/v1/media/download/..%2F..%2Fab%2Fcd/secret`,
    `/_matrix/client/v1/media/download/${SERVER}%2F..%2F..%2F/secret`,
    `/_matrix/client/v1/media/download/${SERVER}/..%2F..%2F..%2Fsecret`,
    `/_matrix/client/v1/media/download/${SERVER}/....%2Fsecret`,
    `/_matrix/client/v1/media/download/${SERVER}/....secret`,
    `/_matrix/client/v1/media/download/${SERVER}/%2E%2E%2E%2E%2E`,
    `/_matrix/client/v1/media/download/${SERVER}/..`,
    `/_matrix/client/v1/media/download/${SERVER}/../../secret`,
    `/_matrix/client/v1/media/download/${SERVER}/%00abcdefgh`,
    `/_matrix/client/v1/media/download/${SERVER}/abcd%5C..%5C..%5Csecret`,
    `/_matrix/client/v1/media/thumbnail/${SERVER}/..%2F..%2F..%2Fsecret?width=32&height=32`,
    `/_matrix/client/v1/media/thumbnail/..%2F..?width=32&height=32`,
    `/_matrix/media/v3/download/${SERVER}/..%2F..%2F..%2Fsecret`,
    `/_matrix/media/v3/thumbnail/${SERVER}/....secret?width=1&height=1`,
    `/_matrix/client/v1/media/download/%ZZ/abc`,
  ];
  for (const p of attempts) {
    const r = await rawGet(p);
    assert.ok(r.status === 400 || r.status === 404, `${p} → ${r.status}`);
    assert.ok(!r.body.includes(SECRET), p);
    assert.match(r.headers['content-type'] ?? '', /^application\/json/, p);
  }
  // A hostile file name only ever lands, encoded, in Content-Disposition.
  for (const name of ['..%2F..%2Fsecret', '%0D%0ASet-Cookie%3A%20x%3D1', '%22%3B%20filename%3Devil.html']) {
    const r = await rawGet(`/_matrix/client/v1/media/download/${SERVER}/${id}/${name}`);
    assert.equal(r.status, 200, name);
    assert.equal(r.body, 'inside');
    assert.equal(r.headers['set-cookie'], undefined);
    assert.match(r.headers['content-disposition'] ?? '', /^inline; filename\*=utf-8''[A-Za-z0-9%!#$&+\-.^_`|~]+$/, name);
  }
});

test('PUT into a traversal-shaped ID is refused before any file is written', async () => {
  const before = fs.readdirSync(path.dirname(s.store)).sort();
  for (const id of ['..%2F..%2Fpwned', '....pwned', '%2E%2E%2E%2Epwned']) {
    const res = await fetch(`${s.base}/_matrix/media/v3/upload/${SERVER}/${id}`, { method: 'PUT', headers: { Authorization: 'Bearer alice' }, body: 'x' });
    assert.equal(res.status, 404, id);
  }
  assert.deepEqual(fs.readdirSync(path.dirname(s.store)).sort(), before);
});

test('path building refuses every unsafe component and stays inside the base', () => {
  const paths = new MediaFilePaths('/srv/media');
  assert.equal(paths.localContent('abcdefghijklmnopqrstuvwx'), '/srv/media/local_content/ab/cd/efghijklmnopqrstuvwx');
  assert.equal(
    paths.localThumbnail('abcdefghijklmnopqrstuvwx', 320, 240, 'image/jpeg', 'scale'),
    '/srv/media/local_thumbnails/ab/cd/efghijklmnopqrstuvwx/320-240-image-jpeg-scale',
  );
  for (const bad of ['....x', '../../etc/passwd', 'ab/cd/ef', 'ab\\cdef', 'abcd', 'ab..x', '..abc', 'abc\u0000def', 'abcé123']) {
    assert.throws(() => paths.localContent(bad), UnsafePathError, bad);
  }
  assert.throws(() => paths.localThumbnail('abcdefgh', 1, 1, 'image/../x', 'crop'), UnsafePathError);
  assert.throws(() => paths.localThumbnail('abcdefgh', 1, 1, 'image', 'crop'), UnsafePathError);
  // What passes the ID check always builds a path.
  for (const ok of ['abcdefghijklmnopqrstuvwx', '2024-01-01_abcdefghijklmnop', 'a.b.c.d']) {
    assert.ok(isPlausibleLocalMediaId(ok), ok);
    assert.ok(paths.localContent(ok).startsWith('/srv/media/local_content/'));
  }
  for (const bad of ['....x', '..abc', 'ab..c', 'abc/def', 'abcd', '']) assert.equal(isPlausibleLocalMediaId(bad), false, bad);
});

test('server name grammar', () => {
  for (const ok of ['example.org', 'example.org:8448', 'localhost', '1.2.3.4', '1.2.3.4:80', '[::1]', '[1234:5678::abcd]:443', 'a-b.c']) {
    assert.ok(isValidServerName(ok), ok);
  }
  for (const bad of ['', '../etc', 'a/b', 'example.org:', 'example.org:99999', 'example.org:8a', '[::1', '[zz::1]', 'ex ample.org', 'exa_mple.org', 'a:b:c', 'x'.repeat(256)]) {
    assert.equal(isValidServerName(bad), false, bad);
  }
});
