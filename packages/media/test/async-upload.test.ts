import test from 'node:test';
import assert from 'node:assert/strict';
import { SERVER, auth, splitMxc, startMediaServer, type MediaServer } from './helpers.ts';

const DAY = 24 * 60 * 60 * 1000;
let clock = 1_700_000_000_000;
let s: MediaServer;
test.before(async () => {
  s = await startMediaServer({ now: () => clock, maxPendingMediaUploads: 3, maxUploadSize: 1000 });
});
test.after(() => s.close());

async function create(user = 'alice'): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${s.base}/_matrix/media/v1/create`, { method: 'POST', headers: auth(user) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

function put(id: string, body: RequestInit['body'], user = 'alice', server = SERVER, type = 'text/plain', query = ''): Promise<Response> {
  return fetch(`${s.base}/_matrix/media/v3/upload/${server}/${id}${query}`, { method: 'PUT', headers: { ...auth(user), 'Content-Type': type }, body });
}

async function errcode(res: Response): Promise<string> {
  return ((await res.json()) as { errcode: string }).errcode;
}

test('create reserves an MXC URI with an expiry 24h out; PUT fills it once, by its creator only', async () => {
  const c = await create();
  assert.equal(c.status, 200);
  assert.equal(c.body.unused_expires_at, clock + DAY);
  const [server, id] = splitMxc(c.body.content_uri as string);
  assert.equal(server, SERVER);
  assert.match(id, /^[A-Za-z]{24}$/);

  // Before the upload: a download waits (timeout_ms) and then says not yet uploaded.
  let res = await fetch(`${s.base}/_matrix/client/v1/media/download/${SERVER}/${id}?timeout_ms=0`, { headers: auth() });
  assert.equal(res.status, 504);
  assert.equal(await errcode(res), 'M_NOT_YET_UPLOADED');

  res = await put(id, 'not yours', 'bob');
  assert.equal(res.status, 403);
  assert.equal(await errcode(res), 'M_FORBIDDEN');

  res = await put(id, 'the content', 'alice', SERVER, 'text/plain', '?filename=later.txt');
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), {});

  res = await put(id, 'again', 'alice');
  assert.equal(res.status, 409);
  assert.equal(await errcode(res), 'M_CANNOT_OVERWRITE_MEDIA');

  res = await fetch(`${s.base}/_matrix/client/v1/media/download/${SERVER}/${id}`, { headers: auth('bob') });
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'the content');
  assert.equal(res.headers.get('content-disposition'), 'inline; filename=later.txt');
});

test('a download started before the upload completes once the content arrives', async () => {
  const [, id] = splitMxc((await create()).body.content_uri as string);
  const waiting = fetch(`${s.base}/_matrix/client/v1/media/download/${SERVER}/${id}?timeout_ms=5000`, { headers: auth() });
  await new Promise((r) => setTimeout(r, 200));
  assert.equal((await put(id, 'arrived')).status, 200);
  const res = await waiting;
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'arrived');
});

test('an expired reservation cannot be uploaded to or downloaded', async () => {
  const [, id] = splitMxc((await create()).body.content_uri as string);
  clock += DAY + 1;
  try {
    let res = await put(id, 'too late');
    assert.equal(res.status, 404);
    assert.equal(await errcode(res), 'M_NOT_FOUND');
    res = await fetch(`${s.base}/_matrix/client/v1/media/download/${SERVER}/${id}?timeout_ms=0`, { headers: auth() });
    assert.equal(res.status, 404);
  } finally {
    clock -= DAY + 1;
  }
});

test('PUT to an unknown ID, another server or a malformed ID is 404', async () => {
  let res = await put('abcdefghijklmnopqrstuvwx', 'x');
  assert.equal(res.status, 404);
  assert.equal(await errcode(res), 'M_NOT_FOUND');
  const [, id] = splitMxc((await create('carol')).body.content_uri as string);
  res = await put(id, 'x', 'carol', 'other.example');
  assert.equal(res.status, 404);
  res = await put('..%2F..%2Fescape', 'x', 'carol');
  assert.equal(res.status, 404);
});

test('PUT over the size limit is 413 and leaves the reservation usable', async () => {
  const [, id] = splitMxc((await create('dave')).body.content_uri as string);
  let res = await put(id, new Uint8Array(1001), 'dave');
  assert.equal(res.status, 413);
  assert.equal(await errcode(res), 'M_TOO_LARGE');
  res = await put(id, new Uint8Array(1000), 'dave');
  assert.equal(res.status, 200);
});

test('two concurrent uploads into one ID: exactly one wins, the bytes on disk are the winner’s', async () => {
  const [, id] = splitMxc((await create('erin')).body.content_uri as string);
  const [a, b] = await Promise.all([put(id, 'A'.repeat(900), 'erin'), put(id, 'B'.repeat(900), 'erin')]);
  const statuses = [a.status, b.status].sort();
  assert.deepEqual(statuses, [200, 409]);
  const winner = a.status === 200 ? 'A' : 'B';
  const res = await fetch(`${s.base}/_matrix/client/v1/media/download/${SERVER}/${id}`, { headers: auth() });
  assert.equal(await res.text(), winner.repeat(900));
});

test('pending uploads are limited per user: 429 M_LIMIT_EXCEEDED with retry_after_ms', async () => {
  const user = 'frank';
  for (let i = 0; i < 3; i++) assert.equal((await create(user)).status, 200);
  clock += 1000;
  try {
    const over = await create(user);
    assert.equal(over.status, 429);
    assert.equal(over.body.errcode, 'M_LIMIT_EXCEEDED');
    assert.equal(over.body.retry_after_ms, DAY - 1000);
    // Other users are unaffected.
    assert.equal((await create('grace')).status, 200);
    // Completing one frees a slot.
    const rows = await s.db.sql<{ media_id: string }[]>`SELECT media_id FROM local_media_repository WHERE user_id = ${`@${user}:${SERVER}`} LIMIT 1`;
    assert.equal((await put(rows[0]?.media_id as string, 'done', user)).status, 200);
    assert.equal((await create(user)).status, 200);
  } finally {
    clock -= 1000;
  }
});

test('create ignores any request body, like Synapse', async () => {
  const res = await fetch(`${s.base}/_matrix/media/v1/create`, { method: 'POST', headers: { ...auth('heidi'), 'Content-Type': 'application/json' }, body: 'not json' });
  assert.equal(res.status, 200);
});
