/**
 * Response shapes checked against the spec's OpenAPI (from /work/shared, which products never read).
 * Skips loudly when the spec data is not on this machine.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import YAML from 'yaml';
import { oneTimeKey, SERVER, startHarness, V3, type Harness } from './support.ts';

const SPEC_DIR = '/work/shared/matrix-spec/data/api/client-server';
const present = fs.existsSync(SPEC_DIR);
if (!present) console.warn(`\n!!! ${SPEC_DIR} is absent: SKIPPING the OpenAPI response-shape checks for e2ee !!!\n`);

/** Load a YAML file with every `$ref` (other files and local pointers) inlined. */
function loadResolved(file: string): unknown {
  const docs = new Map<string, unknown>();
  const load = (f: string): unknown => {
    if (!docs.has(f)) docs.set(f, YAML.parse(fs.readFileSync(f, 'utf8')));
    return docs.get(f);
  };
  const resolve = (node: unknown, base: string, depth: number): unknown => {
    if (depth > 50) throw new Error('ref depth');
    if (Array.isArray(node)) return node.map((n) => resolve(n, base, depth + 1));
    if (typeof node !== 'object' || node === null) return node;
    const obj = node as Record<string, unknown>;
    if (typeof obj.$ref === 'string') {
      const [rel, pointer = ''] = obj.$ref.split('#');
      const target = rel ? path.resolve(path.dirname(base), rel) : base;
      let value = load(target);
      for (const part of pointer.split('/').filter(Boolean)) value = (value as Record<string, unknown>)[part];
      const { $ref: _r, ...rest } = obj;
      return { ...(resolve(value, target, depth + 1) as object), ...(resolve(rest, base, depth + 1) as object) };
    }
    return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, resolve(v, base, depth + 1)]));
  };
  return resolve(load(file), file, 0);
}

function responseSchema(file: string, route: string, method: string, status = '200'): object {
  const doc = loadResolved(path.join(SPEC_DIR, file)) as any;
  const schema = doc.paths[route][method].responses[status].content['application/json'].schema;
  assert.ok(schema, `${file} ${method} ${route} ${status}`);
  return schema;
}

const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
function check(schema: object, body: unknown, what: string): void {
  const validate = ajv.compile(schema);
  assert.ok(validate(body), `${what}: ${JSON.stringify(validate.errors)}\n${JSON.stringify(body)}`);
}

let h: Harness;
test.before(async () => {
  if (present) h = await startHarness();
});
test.after(async () => {
  if (present) await h.close();
});

test('keys/upload, keys/query, keys/claim, keys/changes, signatures/upload responses match the spec', { skip: !present }, async () => {
  const alice = h.device(`@oa:${SERVER}`, 'OA1');
  const bob = h.device(`@ob:${SERVER}`, 'OB1');
  const up = await h.call('POST', `${V3}/keys/upload`, {
    token: alice.token,
    body: { device_keys: alice.deviceKeys, one_time_keys: { 'signed_curve25519:a': oneTimeKey(alice) }, fallback_keys: { 'signed_curve25519:f': oneTimeKey(alice, true) } },
  });
  assert.equal(up.status, 200);
  check(responseSchema('keys.yaml', '/keys/upload', 'post'), up.json, 'keys/upload');
  // The checker itself can fail: a wrong shape is rejected.
  assert.equal(ajv.compile(responseSchema('keys.yaml', '/keys/upload', 'post'))({ one_time_key_counts: { signed_curve25519: 'x' } }), false);

  const q = await h.call('POST', `${V3}/keys/query`, { token: bob.token, body: { device_keys: { [alice.userId]: [], '@r:remote.example': [] } } });
  assert.equal(Object.keys(q.json.device_keys[alice.userId]).length, 1);
  check(responseSchema('keys.yaml', '/keys/query', 'post'), q.json, 'keys/query');
  const mangled = structuredClone(q.json);
  delete mangled.device_keys[alice.userId].OA1.keys;
  assert.equal(ajv.compile(responseSchema('keys.yaml', '/keys/query', 'post'))(mangled), false);

  for (let i = 0; i < 2; i++) {
    const c = await h.call('POST', `${V3}/keys/claim`, { token: bob.token, body: { one_time_keys: { [alice.userId]: { OA1: 'signed_curve25519' } } } });
    assert.equal(Object.keys(c.json.one_time_keys[alice.userId].OA1).length, 1);
    check(responseSchema('keys.yaml', '/keys/claim', 'post'), c.json, `keys/claim #${i}`);
  }

  const ch = await h.call('GET', `${V3}/keys/changes?from=s0&to=s0`, { token: bob.token });
  check(responseSchema('keys.yaml', '/keys/changes', 'get'), ch.json, 'keys/changes');

  const sig = await h.call('POST', `${V3}/keys/signatures/upload`, { token: bob.token, body: { [alice.userId]: { OA1: alice.deviceKeys } } });
  assert.ok(Object.keys(sig.json.failures).length > 0);
  check(responseSchema('cross_signing.yaml', '/keys/signatures/upload', 'post'), sig.json, 'signatures/upload');
});

test('room_keys responses match the spec', { skip: !present }, async () => {
  const u = h.device(`@ok:${SERVER}`, 'OK1');
  const created = await h.call('POST', `${V3}/room_keys/version`, { token: u.token, body: { algorithm: 'm.megolm_backup.v1.curve25519-aes-sha2', auth_data: { public_key: 'x' } } });
  check(responseSchema('key_backup.yaml', '/room_keys/version', 'post'), created.json, 'create version');
  const version = created.json.version as string;
  const data = { first_message_index: 0, forwarded_count: 0, is_verified: false, session_data: { ciphertext: 'c' } };
  const put = await h.call('PUT', `${V3}/room_keys/keys/${encodeURIComponent('!r:x')}/s1?version=${version}`, { token: u.token, body: data });
  check(responseSchema('key_backup.yaml', '/room_keys/keys/{roomId}/{sessionId}', 'put'), put.json, 'put session');
  const cur = await h.call('GET', `${V3}/room_keys/version`, { token: u.token });
  check(responseSchema('key_backup.yaml', '/room_keys/version', 'get'), cur.json, 'current version');
  const all = await h.call('GET', `${V3}/room_keys/keys?version=${version}`, { token: u.token });
  check(responseSchema('key_backup.yaml', '/room_keys/keys', 'get'), all.json, 'get all');
  const sess = await h.call('GET', `${V3}/room_keys/keys/${encodeURIComponent('!r:x')}/s1?version=${version}`, { token: u.token });
  check(responseSchema('key_backup.yaml', '/room_keys/keys/{roomId}/{sessionId}', 'get'), sess.json, 'get session');
  const stale = await h.call('POST', `${V3}/room_keys/version`, { token: u.token, body: { algorithm: 'm.megolm_backup.v1.curve25519-aes-sha2', auth_data: {} } });
  assert.equal(stale.status, 200);
  const wrong = await h.call('PUT', `${V3}/room_keys/keys/${encodeURIComponent('!r:x')}/s1?version=${version}`, { token: u.token, body: data });
  assert.equal(wrong.status, 403);
  check(responseSchema('key_backup.yaml', '/room_keys/keys/{roomId}/{sessionId}', 'put', '403'), wrong.json, 'wrong version');
});
