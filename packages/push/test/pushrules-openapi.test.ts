/**
 * Response shapes of the push rule endpoints against the spec's OpenAPI (pushrules.yaml), read from
 * /work/shared when it exists. Skips loudly without it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import YAML from 'yaml';
import { clientFor, startPushTestEnv, type PushTestEnv } from './support.ts';

const SPEC_DIR = '/work/shared/matrix-spec/data/api/client-server';
const available = fs.existsSync(path.join(SPEC_DIR, 'pushrules.yaml'));
if (!available) console.warn(`\n!!! SKIPPING push rule OpenAPI shape checks: ${SPEC_DIR} is absent !!!\n`);

/** Load a YAML file and inline every relative `$ref` (file plus optional JSON-pointer fragment). */
function loadResolved(file: string): unknown {
  const cache = new Map<string, unknown>();
  const load = (f: string): unknown => {
    if (!cache.has(f)) cache.set(f, YAML.parse(fs.readFileSync(f, 'utf8')));
    return cache.get(f);
  };
  const resolve = (node: unknown, base: string): unknown => {
    if (Array.isArray(node)) return node.map((n) => resolve(n, base));
    if (typeof node !== 'object' || node === null) return node;
    const obj = node as Record<string, unknown>;
    if (typeof obj.$ref === 'string' && !obj.$ref.startsWith('#')) {
      const [rel, fragment] = obj.$ref.split('#');
      const target = path.resolve(path.dirname(base), rel as string);
      let value = load(target);
      for (const part of (fragment ?? '').split('/').filter(Boolean)) value = (value as Record<string, unknown>)[part];
      const { $ref: _ignored, ...siblings } = obj;
      return { ...(resolve(value, target) as object), ...(resolve(siblings, base) as object) };
    }
    return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, resolve(v, base)]));
  };
  return resolve(load(file), file);
}

let env: PushTestEnv;
let paths: Record<string, Record<string, { responses: Record<string, { content: { 'application/json': { schema: object } } }> }>>;
const ajv = new Ajv2020({ strict: false, allErrors: true, allowUnionTypes: true });

function check(pathKey: string, method: string, status: string, body: unknown): void {
  const schema = paths[pathKey]?.[method]?.responses[status]?.content['application/json'].schema;
  assert.ok(schema, `no schema for ${method} ${pathKey} ${status}`);
  const validate = ajv.compile(schema);
  assert.ok(validate(body), `${method} ${pathKey} ${status}: ${ajv.errorsText(validate.errors)}`);
}

before(async () => {
  if (!available) return;
  paths = (loadResolved(path.join(SPEC_DIR, 'pushrules.yaml')) as { paths: typeof paths }).paths;
  env = await startPushTestEnv();
});
after(async () => {
  await env?.close();
});

test('GET /pushrules/ and /pushrules/global/ match the spec, with user rules of every kind', { skip: !available }, async () => {
  const call = clientFor(env, '@shape:example.org');
  await call('PUT', '/global/override/o', { conditions: [{ kind: 'event_property_is', key: 'content.x', value: null }], actions: ['notify'] });
  await call('PUT', '/global/content/c', { pattern: 'cake', actions: [{ set_tweak: 'highlight' }] });
  await call('PUT', `/global/room/${encodeURIComponent('!r:example.org')}`, { actions: [] });
  await call('PUT', `/global/sender/${encodeURIComponent('@s:example.org')}`, { actions: [] });
  await call('PUT', '/global/underride/u', { conditions: [{ kind: 'room_member_count', is: '<=10' }], actions: ['notify'] });
  await call('PUT', '/global/underride/.m.rule.message/enabled', { enabled: false });
  const all = await call('GET', '/');
  assert.equal(all.status, 200);
  check('/pushrules/', 'get', '200', all.json);
  const global = await call('GET', '/global/');
  check('/pushrules/global/', 'get', '200', global.json);
  // A sanity check that the validator is not vacuous.
  const broken = structuredClone(global.json) as { override: Record<string, unknown>[] };
  delete broken.override[0]?.enabled;
  const schema = paths['/pushrules/global/']?.get?.responses['200']?.content['application/json'].schema as object;
  assert.equal(ajv.compile(schema)(broken), false);
});

test('single-rule, enabled and actions responses match the spec', { skip: !available }, async () => {
  const call = clientFor(env, '@shape2:example.org');
  await call('PUT', '/global/content/nocake', { pattern: 'cake*lie', actions: ['notify'] });
  const key = '/pushrules/global/{kind}/{ruleId}';
  for (const p of ['/global/content/nocake', '/global/override/.m.rule.is_room_mention', '/global/underride/.m.rule.call']) {
    const r = await call('GET', p);
    check(key, 'get', '200', r.json);
  }
  check(key, 'put', '200', (await call('PUT', '/global/content/other', { pattern: 'x', actions: [] })).json);
  check(key, 'delete', '200', (await call('DELETE', '/global/content/other')).json);
  const notFound = await call('GET', '/global/content/missing');
  check(key, 'get', '404', notFound.json);
  const badAnchor = await call('PUT', '/global/content/x?before=missing', { pattern: 'x', actions: [] });
  check(key, 'put', '400', badAnchor.json);
  check(`${key}/enabled`, 'get', '200', (await call('GET', '/global/content/nocake/enabled')).json);
  check(`${key}/enabled`, 'put', '200', (await call('PUT', '/global/content/nocake/enabled', { enabled: false })).json);
  check(`${key}/actions`, 'get', '200', (await call('GET', '/global/content/nocake/actions')).json);
  check(`${key}/actions`, 'put', '200', (await call('PUT', '/global/content/nocake/actions', { actions: ['notify'] })).json);
});
