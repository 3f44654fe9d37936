/**
 * Our JSON answers checked against the spec's OpenAPI response schemas (read from /work/shared in
 * tests only; skipped loudly when that directory is absent).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { SERVER, auth, splitMxc, startMediaServer, type MediaServer } from './helpers.ts';

const SPEC = '/work/shared/matrix-spec/data/api/client-server';
const present = fs.existsSync(SPEC);
if (!present) console.warn(`!!! ${SPEC} is absent: skipping the media response-shape checks`);

/** Resolve `$ref`s (file and in-file pointers) and drop OpenAPI-only keywords. */
function resolve(node: unknown, file: string): unknown {
  if (Array.isArray(node)) return node.map((n) => resolve(n, file));
  if (!node || typeof node !== 'object') return node;
  const obj = node as Record<string, unknown>;
  if (typeof obj.$ref === 'string') {
    const [rel, frag = ''] = obj.$ref.split('#');
    const target = rel ? path.resolve(path.dirname(file), rel) : file;
    let cur: unknown = parse(fs.readFileSync(target, 'utf8'));
    for (const part of frag.split('/').filter(Boolean)) cur = (cur as Record<string, unknown>)[part];
    return resolve(cur, target);
  }
  return Object.fromEntries(Object.entries(obj).filter(([k]) => k !== 'example' && k !== 'examples' && !k.startsWith('x-')).map(([k, v]) => [k, resolve(v, file)]));
}

const ajv = new Ajv2020({ strict: false, validateFormats: false });
function check(file: string, apiPath: string, method: string, status: number, body: unknown): void {
  const full = path.join(SPEC, file);
  const doc = parse(fs.readFileSync(full, 'utf8')) as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
  const response = resolve(doc.paths[apiPath]?.[method]?.responses[String(status)], full) as { content?: Record<string, { schema: object }> };
  const schema = response?.content?.['application/json']?.schema;
  assert.ok(schema, `${method} ${apiPath} ${status} has a JSON schema`);
  const validate = ajv.compile(schema);
  assert.ok(validate(body), `${method} ${apiPath} ${status}: ${JSON.stringify(validate.errors)} for ${JSON.stringify(body)}`);
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
