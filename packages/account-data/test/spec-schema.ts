/**
 * Test support: response schemas from the spec's OpenAPI files in /work/shared (never read by the
 * product), with `$ref`s inlined, compiled for checking our responses' shapes. Returns null — and the
 * caller skips loudly — when the spec data is not on this machine.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';

export const SPEC_API_DIR = '/work/shared/matrix-spec/data/api/client-server';

export function specAvailable(): boolean {
  return fs.existsSync(SPEC_API_DIR);
}

const docs = new Map<string, unknown>();
function loadDoc(file: string): unknown {
  let doc = docs.get(file);
  if (doc === undefined) {
    doc = parse(fs.readFileSync(file, 'utf8')) as unknown;
    docs.set(file, doc);
  }
  return doc;
}

function pointer(doc: unknown, fragment: string): unknown {
  let cur = doc;
  for (const part of fragment.replace(/^\//, '').split('/').filter(Boolean)) {
    cur = (cur as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return cur;
}

/** Inline every `$ref` (other files and in-document pointers) and drop OpenAPI-only keys. */
function inline(node: unknown, file: string, depth = 0): unknown {
  if (depth > 40) throw new Error('reference nesting too deep');
  if (Array.isArray(node)) return node.map((n) => inline(n, file, depth + 1));
  if (!node || typeof node !== 'object') return node;
  const obj = node as Record<string, unknown>;
  if (typeof obj.$ref === 'string') {
    const [target, fragment = ''] = obj.$ref.split('#');
    const targetFile = target ? path.resolve(path.dirname(file), target) : file;
    const resolved = inline(pointer(loadDoc(targetFile), fragment), targetFile, depth + 1) as Record<string, unknown>;
    const { $ref: _ignored, ...siblings } = obj;
    return { ...resolved, ...(inline(siblings, file, depth + 1) as object) };
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'example' || k === 'examples' || k.startsWith('x-')) continue;
    out[k] = inline(v, file, depth + 1);
  }
  return out;
}

const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });

/** The 200 (or given status) response schema of `method path` in `file`, ready to validate. */
export function responseValidator(file: string, apiPath: string, method: string, status = '200'): ValidateFunction {
  const full = path.join(SPEC_API_DIR, file);
  const doc = loadDoc(full) as { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>> };
  const schema = doc.paths[apiPath]?.[method]?.responses[status]?.content?.['application/json']?.schema;
  if (!schema) throw new Error(`no ${status} schema for ${method} ${apiPath} in ${file}`);
  return ajv.compile(inline(schema, full) as object);
}

/** The request body schema of `method path` in `file`. */
export function requestValidator(file: string, apiPath: string, method: string): ValidateFunction {
  const full = path.join(SPEC_API_DIR, file);
  const doc = loadDoc(full) as { paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema: unknown }> } }>> };
  const schema = doc.paths[apiPath]?.[method]?.requestBody?.content?.['application/json']?.schema;
  if (!schema) throw new Error(`no request schema for ${method} ${apiPath} in ${file}`);
  return ajv.compile(inline(schema, full) as object);
}
