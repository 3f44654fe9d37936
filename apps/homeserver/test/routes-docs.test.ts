/** docs/workers.md's routing tables must say what the manifest and `homeserver routes` do. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { proxyRegex, type EndpointDecl } from '@hs/http';
import { ALL_ENDPOINTS } from '../src/endpoints.ts';
import { BEGIN_MARK, END_MARK, renderWorkerRoutingTables, withWorkerRoutingTables } from '../src/worker-docs.ts';

const file = path.resolve(import.meta.dirname, '../../../docs/workers.md');

test('docs/workers.md has the routing tables of the current manifest (run `node apps/homeserver/src/worker-docs.ts`)', () => {
  const doc = fs.readFileSync(file, 'utf8');
  assert.equal(doc, withWorkerRoutingTables(doc, ALL_ENDPOINTS));
});

test('the tables follow the manifest: a change to an endpoint’s workers, writer or balance changes its row', () => {
  const row = (decls: EndpointDecl[], name: string) => renderWorkerRoutingTables(decls).split('\n').find((l) => l.endsWith(` ${name} |`));
  const section = (decls: EndpointDecl[], name: string) => {
    const text = renderWorkerRoutingTables(decls);
    return /### (\w+)/.exec(text.slice(0, text.indexOf(` ${name} |`)).split('\n').reverse().join('\n'))?.[1];
  };
  const sync = ALL_ENDPOINTS.find((e) => e.name === 'sync') as EndpointDecl;
  assert.equal(row([sync], 'sync'), `| GET | \`${proxyRegex(sync).replace(/\|/g, '\\|')}\` |  | access token | sync |`);
  assert.equal(section([sync], 'sync'), 'Generic');
  assert.equal(section([{ ...sync, workers: ['main'] }], 'sync'), 'Main');
  assert.equal(section([{ ...sync, workers: ['main', 'media_repository'] }], 'sync'), 'Media');
  assert.match(row([{ ...sync, method: 'PUT', writer: 'typing', balance: 'room', path: '/_matrix/client/v3/rooms/{roomId}/x' }], 'sync') ?? '', /\| `typing` writer \| room ID \| sync \|$/);
  assert.equal(renderWorkerRoutingTables([{ ...sync, resource: 'health' }]).includes(' sync |'), false, 'per-process endpoints are not listed');
});

test('the markers cannot silently go missing', () => {
  assert.throws(() => withWorkerRoutingTables('# no markers', ALL_ENDPOINTS), /lost its generated-section markers/);
  const doc = fs.readFileSync(file, 'utf8');
  assert.equal(doc.split(BEGIN_MARK).length, 2);
  assert.equal(doc.split(END_MARK).length, 2);
});
