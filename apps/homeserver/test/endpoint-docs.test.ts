import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ALL_ENDPOINTS, createManifest } from '../src/endpoints.ts';
import { renderEndpointDocs } from '../src/endpoint-docs.ts';

test('docs/endpoints.md is generated from the current manifest (run `npm run docs:endpoints`)', () => {
  const file = path.resolve(import.meta.dirname, '../../../docs/endpoints.md');
  assert.equal(fs.readFileSync(file, 'utf8'), renderEndpointDocs(ALL_ENDPOINTS));
});

test('the manifest is consistent: unique names, valid templates, no two endpoints on one method+path', () => {
  const manifest = createManifest();
  const seen = new Map<string, string>();
  for (const { decl, regex } of manifest.endpoints) {
    const key = `${decl.method} ${regex.source}`;
    assert.ok(!seen.has(key), `${decl.name} and ${seen.get(key)} both claim ${key}`);
    seen.set(key, decl.name);
  }
  assert.ok(manifest.endpoints.length > 100);
});
