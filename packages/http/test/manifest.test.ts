import test from 'node:test';
import assert from 'node:assert/strict';
import { compilePath, Manifest, pathSegmentCounts, proxyRegex, type EndpointDecl } from '../src/manifest.ts';

const base = { resource: 'client', workers: ['main'], auth: 'none' } as const;

test('path templates compile to anchored regexes with captures', () => {
  const { regex, paramNames } = compilePath({ path: '/_matrix/client/{v}/rooms/{roomId}/send/{type}/{txn}', params: { v: 'v3|r0' } });
  assert.deepEqual(paramNames, ['v', 'roomId', 'type', 'txn']);
  const m = regex.exec('/_matrix/client/v3/rooms/!a:b/send/m.room.message/1');
  assert.deepEqual(m?.slice(1), ['v3', '!a:b', 'm.room.message', '1']);
  assert.equal(regex.test('/_matrix/client/v3/rooms/!a:b/send/m.room.message/1/extra'), false);
  assert.equal(regex.test('/_matrix/client/v4/rooms/!a:b/send/t/1'), false);
  assert.equal(proxyRegex({ path: '/_matrix/client/{v}/rooms/{roomId}/state', params: { v: 'v3|r0' } }), '^/_matrix/client/(v3|r0)/rooms/[^/]+/state$');
  assert.throws(() => compilePath({ path: 'no-slash' }), /must start with/);
  assert.throws(() => compilePath({ path: '/a/b{c}' }), /bad path segment/);
});

test('the manifest rejects duplicate names and endpoints nobody serves', () => {
  const d: EndpointDecl = { ...base, name: 'a', method: 'GET', path: '/a' };
  assert.throws(() => new Manifest([d, d]), /duplicate endpoint name a/);
  assert.throws(() => new Manifest([{ ...d, workers: [] }]), /served by no process kind/);
});

test('servedBy filters by process kind and resources', () => {
  const m = new Manifest([
    { ...base, name: 'c', method: 'GET', path: '/c' },
    { ...base, name: 'f', method: 'GET', path: '/f', resource: 'federation', workers: ['main', 'generic_worker'] },
  ]);
  assert.deepEqual(m.servedBy('main', new Set(['client'])).map((e) => e.decl.name), ['c']);
  assert.deepEqual(m.servedBy('generic_worker', new Set(['client', 'federation'])).map((e) => e.decl.name), ['f']);
});

test('a template has as many segments as it has, except where a parameter alternative spans several', () => {
  assert.deepEqual(pathSegmentCounts({ path: '/_matrix/client/{v}/sync', params: { v: 'v3|r0' } }), [4]);
  assert.deepEqual(pathSegmentCounts({ path: '/_matrix/client/{v}/rooms/{roomId}/send', params: { v: 'v3|api/v1' } }).sort(), [6, 7]);
  assert.deepEqual(pathSegmentCounts({ path: '/health' }), [1]);
});
