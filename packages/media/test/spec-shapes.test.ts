/**
 * Our JSON answers checked against the spec's OpenAPI response schemas (read from /work/shared in
 * tests only; skipped loudly when that directory is absent).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { assertResponseShape, specPresent } from '../../../e2e/support/openapi.ts';
import { SERVER, auth, splitMxc, startMediaServer, type MediaServer } from './helpers.ts';

const present = specPresent('the media response-shape checks');

function check(file: string, apiPath: string, method: string, status: number, body: unknown): void {
  assertResponseShape(file, apiPath, method, status, body);
}

let s: MediaServer;
test.before(async () => {
  if (present) s = await startMediaServer({ maxUploadSize: 100 });
});
test.after(() => s?.close());

test('upload, create, PUT and config answer in the spec’s shapes', { skip: !present }, async () => {
  const send = async (url: string, init: RequestInit) => {
    const res = await fetch(`${s.base}${url}`, init);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  let r = await send('/_matrix/media/v3/upload', { method: 'POST', headers: auth(), body: 'x' });
  check('content-repo.yaml', '/media/v3/upload', 'post', r.status, r.body);
  r = await send('/_matrix/media/v3/upload', { method: 'POST', headers: auth(), body: new Uint8Array(101) });
  assert.equal(r.status, 413);
  check('content-repo.yaml', '/media/v3/upload', 'post', 413, r.body);

  r = await send('/_matrix/media/v1/create', { method: 'POST', headers: auth() });
  check('content-repo.yaml', '/media/v1/create', 'post', r.status, r.body);
  const [, id] = splitMxc(r.body.content_uri as string);
  const put = (user: string) => send(`/_matrix/media/v3/upload/${SERVER}/${id}`, { method: 'PUT', headers: auth(user), body: 'y' });
  r = await put('bob');
  check('content-repo.yaml', '/media/v3/upload/{serverName}/{mediaId}', 'put', 403, r.body);
  r = await put('alice');
  check('content-repo.yaml', '/media/v3/upload/{serverName}/{mediaId}', 'put', 200, r.body);
  r = await put('alice');
  check('content-repo.yaml', '/media/v3/upload/{serverName}/{mediaId}', 'put', 409, r.body);

  r = await send('/_matrix/client/v1/media/config', { headers: auth() });
  check('authed-content-repo.yaml', '/media/config', 'get', r.status, r.body);
  const [, pending] = splitMxc(((await send('/_matrix/media/v1/create', { method: 'POST', headers: auth() })).body.content_uri as string));
  r = await send(`/_matrix/client/v1/media/download/${SERVER}/${pending}?timeout_ms=0`, { headers: auth() });
  check('authed-content-repo.yaml', '/media/download/{serverName}/{mediaId}', 'get', 504, r.body);
  r = await send(`/_matrix/client/v1/media/thumbnail/${SERVER}/${id}?width=1&height=1`, { headers: auth() });
  check('authed-content-repo.yaml', '/media/thumbnail/{serverName}/{mediaId}', 'get', 400, r.body);
});
