/**
 * Test support: check a response against the 200 schema of the spec's OpenAPI description in
 * /work/shared (read by tests only). `specShapes()` returns null, after a loud warning, when the
 * spec data is not on this machine, and callers skip.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { Ajv2020 } from 'ajv/dist/2020.js';

const DIR = '/work/shared/matrix-spec/data/api/client-server';

export interface SpecShapes {
  /** Assert that `body` matches the `status` response of `method apiPath` in `file`. */
  check(file: string, apiPath: string, method: string, body: unknown, status?: string): void;
}

export function specShapes(what: string): SpecShapes | null {
  if (!fs.existsSync(DIR)) {
    console.warn(`\n*** ${what}: ${DIR} is absent — SKIPPING the OpenAPI response shape checks ***\n`);
    return null;
  }
  const docs = new Map<string, unknown>();
  const load = (file: string) => {
    if (!docs.has(file)) docs.set(file, parse(fs.readFileSync(file, 'utf8')));
    return docs.get(file);
  };
  const at = (doc: unknown, pointer: string) =>
    pointer
      .split('/')
      .filter(Boolean)
      .reduce<unknown>((node, key) => (node as Record<string, unknown>)?.[key.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
  // Inline $refs (they cross files) and drop what JSON Schema validators do not need.
  const inline = (node: unknown, file: string, depth: number): unknown => {
    if (depth > 50) throw new Error('$ref nesting too deep');
    if (Array.isArray(node)) return node.map((n) => inline(n, file, depth + 1));
    if (node === null || typeof node !== 'object') return node;
    const obj = node as Record<string, unknown>;
    if (typeof obj.$ref === 'string') {
      const [rel, pointer = ''] = obj.$ref.split('#');
      const target = rel ? path.resolve(path.dirname(file), rel) : file;
      const resolved = inline(at(load(target), pointer), target, depth + 1);
      const { $ref: _ref, ...rest } = obj;
      return Object.keys(rest).length > 0 ? { allOf: [resolved, inline(rest, file, depth + 1)] } : resolved;
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) {
      if (k === 'example' || k === 'examples' || k.startsWith('x-')) continue;
      out[k] = inline(v, file, depth + 1);
    }
    return out;
  };
  const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
  return {
    check(file, apiPath, method, body, status = '200') {
      const full = path.join(DIR, file);
      const schema = at(load(full), `/paths/${apiPath.replace(/~/g, '~0').replace(/\//g, '~1')}/${method}/responses/${status}/content/application~1json/schema`);
      assert.ok(schema, `no ${status} schema for ${method} ${apiPath} in ${file}`);
      const validate = ajv.compile(inline(schema, full, 0) as object);
      assert.ok(validate(body), `${method.toUpperCase()} ${apiPath}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 2000)}`);
    },
  };
}
