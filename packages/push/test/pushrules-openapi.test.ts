/**
 * Response shapes of the push rule endpoints against the spec's OpenAPI (pushrules.yaml), read from
 * /work/shared when it exists. Skips loudly without it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertResponseShape, responseValidator, specPresent } from '../../../e2e/support/openapi.ts';
import { clientFor, startPushTestEnv, type PushTestEnv } from './support.ts';

const available = specPresent('push rule shape checks', 'pushrules.yaml');

let env: PushTestEnv;

function check(pathKey: string, method: string, status: string, body: unknown): void {
  assertResponseShape('pushrules.yaml', pathKey, method, status, body);
}

before(async () => {
  if (!available) return;
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
  assert.equal(responseValidator('pushrules.yaml', '/pushrules/global/', 'get')(broken), false);
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
