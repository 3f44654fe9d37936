/**
 * Test support shared by every package: the spec's client-server OpenAPI descriptions, read from
 * /work/shared (tests only — products never read it), with every `$ref` inlined, compiled to check the
 * shapes of our responses and requests. Callers ask `specPresent()` first and skip, loudly, without it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';

export const SPEC_API_DIR = '/work/shared/matrix-spec/data/api/client-server';

/** Whether the spec data (and each named file in it) is here; if not, warns that `what` is being skipped. */
export function specPresent(what: string, ...files: string[]): boolean {
  const present = fs.existsSync(SPEC_API_DIR) && files.every((f) => fs.existsSync(path.join(SPEC_API_DIR, f)));
  if (!present) console.warn(`\n!!! ${SPEC_API_DIR} is absent: SKIPPING ${what} (OpenAPI shape checks) !!!\n`);
  return present;
}

const docs = new Map<string, unknown>();
function loadDoc(file: string): unknown {
  if (!docs.has(file)) docs.set(file, parse(fs.readFileSync(file, 'utf8')));
  return docs.get(file);
}

function at(doc: unknown, pointer: string): unknown {
  let node = doc;
  for (const part of pointer.split('/').filter(Boolean)) {
    node = (node as Record<string, unknown> | undefined)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return node;
}

// Keys that only document; siblings of a `$ref` made only of these need no `allOf`.
const ANNOTATIONS = new Set(['description', 'title', 'example', 'examples']);
const isDropped = (key: string) => key === 'example' || key === 'examples' || key.startsWith('x-');

/**
 * Inline every `$ref` (other files and in-document pointers) and drop OpenAPI-only keys (but never a
 * property that happens to be named like one). Constraining siblings of a `$ref` are kept via `allOf`.
 */
function inline(node: unknown, file: string, depth = 0, inProperties = false): unknown {
  if (depth > 60) throw new Error('$ref nesting too deep');
  if (Array.isArray(node)) return node.map((n) => inline(n, file, depth + 1));
  if (node === null || typeof node !== 'object') return node;
  const obj = node as Record<string, unknown>;
  if (typeof obj.$ref === 'string') {
    const [rel, pointer = ''] = obj.$ref.split('#');
    const target = rel ? path.resolve(path.dirname(file), rel) : file;
    const resolved = inline(at(loadDoc(target), pointer), target, depth + 1);
    const { $ref: _ref, ...rest } = obj;
    if (Object.keys(rest).every((k) => ANNOTATIONS.has(k) || k.startsWith('x-'))) return resolved;
    return { allOf: [resolved, inline(rest, file, depth + 1)] };
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (!inProperties && isDropped(k)) continue;
    out[k] = inline(v, file, depth + 1, !inProperties && (k === 'properties' || k === 'patternProperties'));
  }
  return out;
}

type Operation = { responses?: Record<string, unknown>; requestBody?: unknown };
type Body = { content?: Record<string, { schema?: object }> } | undefined;

function operation(file: string, apiPath: string, method: string): { full: string; op: Operation | undefined } {
  const full = path.join(SPEC_API_DIR, file);
  const doc = loadDoc(full) as { paths?: Record<string, Record<string, Operation>> };
  return { full, op: doc.paths?.[apiPath]?.[method] };
}

/** The JSON schema of the `status` response of `method apiPath` in `file`, `$ref`s inlined. */
export function responseSchema(file: string, apiPath: string, method: string, status: string | number = '200'): object {
  const { full, op } = operation(file, apiPath, method);
  const schema = (inline(op?.responses?.[String(status)], full) as Body)?.content?.['application/json']?.schema;
  assert.ok(schema, `no ${status} schema for ${method} ${apiPath} in ${file}`);
  return schema;
}

/** The JSON schema of the request body of `method apiPath` in `file`, `$ref`s inlined. */
export function requestSchema(file: string, apiPath: string, method: string): object {
  const { full, op } = operation(file, apiPath, method);
  const schema = (inline(op?.requestBody, full) as Body)?.content?.['application/json']?.schema;
  assert.ok(schema, `no request schema for ${method} ${apiPath} in ${file}`);
  return schema;
}

const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });

export function responseValidator(file: string, apiPath: string, method: string, status: string | number = '200'): ValidateFunction {
  return ajv.compile(responseSchema(file, apiPath, method, status));
}

export function requestValidator(file: string, apiPath: string, method: string): ValidateFunction {
  return ajv.compile(requestSchema(file, apiPath, method));
}

/** Why `body` does not fit the `status` response of `method apiPath` in `file`, or null when it does. */
export function shapeErrors(file: string, apiPath: string, method: string, status: string | number, body: unknown): string | null {
  const validate = responseValidator(file, apiPath, method, status);
  return validate(body) ? null : ajv.errorsText(validate.errors);
}

/** Assert that `body` fits the `status` response of `method apiPath` in `file`. */
export function assertResponseShape(file: string, apiPath: string, method: string, status: string | number, body: unknown, what = `${method.toUpperCase()} ${apiPath} ${status}`): void {
  const errors = shapeErrors(file, apiPath, method, status, body);
  assert.ok(errors === null, `${what}: ${errors}\n${JSON.stringify(body).slice(0, 2000)}`);
}
