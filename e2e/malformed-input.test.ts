/**
 * Every endpoint in the manifest, fed bad input by a real client over HTTP: no token, a bad token,
 * malformed JSON, JSON of the wrong shape, an empty object, wrong-typed fields and an oversize body.
 * Each must answer a Matrix error with a 4xx status (or succeed, for input that happens to be valid) —
 * never a 5xx, never HTML — and the server must stay healthy.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { ALL_ENDPOINTS } from '../apps/homeserver/src/endpoints.ts';
import { startTestServer, type TestServer } from './support/server.ts';

let server: TestServer;
let token: string;
let userId: string;
let roomId: string;
let eventId: string;

async function call(method: string, path: string, opts: { body?: string | Buffer; token?: string; type?: string } = {}) {
  const res = await fetch(server.baseUrl + path, {
    method,
    headers: {
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...(opts.body !== undefined ? { 'content-type': opts.type ?? 'application/json' } : {}),
    },
    ...(opts.body !== undefined ? { body: opts.body } : {}),
  });
  const text = await res.text();
  return { status: res.status, text, type: res.headers.get('content-type') ?? '' };
}

test.before(async () => {
  server = await startTestServer();
  const first = await call('POST', '/_matrix/client/v3/register', { body: JSON.stringify({ username: 'fuzzer', password: 'fuzzer-pw' }) });
  const session = (JSON.parse(first.text) as { session: string }).session;
  const reg = await call('POST', '/_matrix/client/v3/register', {
    body: JSON.stringify({ username: 'fuzzer', password: 'fuzzer-pw', auth: { type: 'm.login.dummy', session } }),
  });
  ({ access_token: token, user_id: userId } = JSON.parse(reg.text) as { access_token: string; user_id: string });
  roomId = (JSON.parse((await call('POST', '/_matrix/client/v3/createRoom', { token, body: '{}' })).text) as { room_id: string }).room_id;
  eventId = (
    JSON.parse(
      (await call('PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t0`, { token, body: '{"msgtype":"m.text","body":"x"}' })).text,
    ) as { event_id: string }
  ).event_id;
});

test.after(async () => {
  await server?.stop();
});

/** Plausible values for path parameters, so requests reach the handler rather than a 404 on the path. */
function fillPath(path: string, params: Readonly<Record<string, string>> | undefined, n: number): string {
  return path.replace(/\{([A-Za-z_]+)\}/g, (_m, name: string) => {
    const alt = params?.[name];
    if (alt) return alt.split('|')[0] as string;
    const lower = name.toLowerCase();
    if (lower.includes('room') && lower.includes('alias')) return encodeURIComponent(roomId);
    if (lower.includes('room')) return encodeURIComponent(roomId);
    if (lower.includes('user')) return encodeURIComponent(userId);
    if (lower.includes('event') && lower.includes('id')) return encodeURIComponent(eventId);
    if (lower === 'servername') return encodeURIComponent(server.serverName);
    if (lower.includes('txn')) return `fuzz${n}`;
    return `fuzz${n}`;
  });
}

function assertMatrixError(r: { status: number; text: string; type: string }, what: string): void {
  assert.ok(r.status < 500, `${what}: ${r.status} ${r.text.slice(0, 200)}`);
  if (r.status >= 400) {
    assert.match(r.type, /application\/json/, `${what}: not JSON`);
    const body = JSON.parse(r.text) as { errcode?: unknown; error?: unknown; flows?: unknown };
    // A user-interactive-auth challenge is a 401 with `flows` and no errcode, as the spec defines it.
    const uiaChallenge = r.status === 401 && Array.isArray(body.flows);
    assert.ok(uiaChallenge || typeof body.errcode === 'string', `${what}: no errcode in ${r.text.slice(0, 200)}`);
    assert.ok(!r.text.includes('    at '), `${what}: stack trace leaked`);
  }
}

test('every endpoint answers bad input with a 4xx Matrix error, never a 5xx', async () => {
  const bodies: Array<[string, string]> = [
    ['malformed JSON', '{"unterminated": '],
    ['a JSON array', '[1, 2, 3]'],
    ['an empty object', '{}'],
    ['wrong-typed fields', JSON.stringify(Object.fromEntries(['body', 'msgtype', 'type', 'name', 'username', 'password', 'auth', 'device_keys', 'one_time_keys', 'messages', 'content', 'displayname', 'avatar_url', 'rules', 'filter', 'search_categories', 'timeout', 'limit', 'visibility', 'preset', 'invite', 'reason', 'user_id', 'tags', 'order', 'presence', 'typing', 'pushkey', 'kind', 'data', 'actions', 'conditions', 'pattern', 'enabled', 'room_version', 'new_version', 'room_id', 'score'].map((k) => [k, { nested: [k] }])))],
    ['deeply nested JSON', '['.repeat(5000) + ']'.repeat(5000)],
    ['NUL characters', JSON.stringify({ body: 'a\u0000b', msgtype: 'm.text\u0000', username: '\u0000' })],
  ];
  let checked = 0;
  let n = 0;
  for (const decl of ALL_ENDPOINTS) {
    if (decl.resource === 'metrics' || decl.resource === 'health') continue;
    n++;
    const path = fillPath(decl.path, decl.params, n);
    const what = `${decl.method} ${decl.name} (${path})`;
    if (decl.auth === 'user' || decl.auth === 'admin') {
      const none = await call(decl.method, path);
      assert.equal(none.status, 401, `${what} without a token: ${none.text}`);
      assert.equal(JSON.parse(none.text).errcode, 'M_MISSING_TOKEN');
      const bad = await call(decl.method, path, { token: 'not-a-real-token' });
      assert.equal(bad.status, 401, `${what} with a bad token`);
      assert.equal(JSON.parse(bad.text).errcode, 'M_UNKNOWN_TOKEN');
      checked += 2;
    }
    // Logging out needs no body: any request ends the session the rest of this test uses.
    if (decl.name === 'logout' || decl.name === 'logout_all') continue;
    if (decl.method === 'POST' || decl.method === 'PUT') {
      for (const [label, body] of bodies) {
        const isRaw = decl.body === 'raw';
        const r = await call(decl.method, path.replace(/fuzz\d+$/, `fuzz${n}-${label.length}`), { token, body, type: isRaw ? 'application/octet-stream' : 'application/json' });
        assertMatrixError(r, `${what} with ${label}`);
        if (decl.body !== 'raw' && decl.body !== 'none' && label === 'malformed JSON') assert.equal(JSON.parse(r.text).errcode, decl.auth === 'admin' ? 'M_FORBIDDEN' : 'M_NOT_JSON', `${what}: ${r.text}`);
        checked++;
      }
    } else {
      const r = await call(decl.method, `${path}?limit=abc&from=%ff&dir=sideways&timeout=-5&filter=%7Bbad`, { token });
      assertMatrixError(r, `${what} with bad query parameters`);
      checked++;
    }
  }
  console.log(`checked ${checked} bad requests against ${n} endpoints`);
  assert.ok(n > 100, `only ${n} endpoints in the manifest?`);
});

test('an oversize JSON body is 413 M_TOO_LARGE, and the server is still healthy afterwards', async () => {
  const big = JSON.stringify({ msgtype: 'm.text', body: 'x'.repeat(11 * 1024 * 1024) });
  const r = await call('PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/big`, { token, body: big });
  assert.equal(r.status, 413);
  assert.equal(JSON.parse(r.text).errcode, 'M_TOO_LARGE');
  const health = await call('GET', '/health');
  assert.equal(health.text, 'OK');
  const whoami = await call('GET', '/_matrix/client/v3/account/whoami', { token });
  assert.equal(JSON.parse(whoami.text).user_id, userId);
});
