/**
 * Request-body validation against the JSON Schemas under `schemas/` (draft 2020-12). An endpoint names
 * its schema (`bodySchema: 'client/register'` → `schemas/client/register.schema.json`); the listener
 * app compiles each once at start-up and checks every body before the handler runs, so handlers see
 * only well-typed input. Failures map to the Matrix error codes clients expect.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { MatrixError } from '@hs/core';

export const SCHEMAS_DIR = path.resolve(import.meta.dirname, '../../../schemas');

function pointerToPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
}

/** The first problem, as a Matrix error: missing → M_MISSING_PARAM, wrong type → M_BAD_JSON, else M_INVALID_PARAM. */
export function bodyError(errors: readonly ErrorObject[] | null | undefined): MatrixError {
  const e = errors?.[0];
  if (!e) return new MatrixError(400, 'M_BAD_JSON', 'Invalid request body.');
  const at = pointerToPath(e.instancePath);
  if (e.keyword === 'required') {
    const missing = (e.params as { missingProperty: string }).missingProperty;
    return new MatrixError(400, 'M_MISSING_PARAM', `Missing parameter: ${at ? `${at}.` : ''}${missing}`);
  }
  if (e.keyword === 'type') {
    return new MatrixError(400, 'M_BAD_JSON', `${at || 'body'} must be ${(e.params as { type: string }).type}`);
  }
  return new MatrixError(400, 'M_INVALID_PARAM', `${at || 'body'} ${e.message ?? 'is invalid'}`);
}

export class BodySchemas {
  private readonly ajv: Ajv2020;
  private readonly compiled = new Map<string, ValidateFunction>();
  private readonly root: string;

  constructor(root = SCHEMAS_DIR) {
    this.root = root;
    this.ajv = new Ajv2020({ allErrors: false, strict: true, allowUnionTypes: true });
  }

  /** Compile (once) the schema named like `client/register`. Throws at start-up if it is missing or invalid. */
  get(name: string): ValidateFunction {
    const known = this.compiled.get(name);
    if (known) return known;
    if (!/^[a-z0-9_-]+(\/[a-z0-9_-]+)*$/.test(name)) throw new Error(`invalid schema name ${name}`);
    const file = path.join(this.root, `${name}.schema.json`);
    const schema = JSON.parse(fs.readFileSync(file, 'utf8')) as object;
    const fn = this.ajv.compile(schema);
    this.compiled.set(name, fn);
    return fn;
  }

  /** Validate `body` (an absent body is checked as `{}`), throwing the matching Matrix error. */
  check(name: string, body: unknown): void {
    const fn = this.get(name);
    if (!fn(body ?? {})) throw bodyError(fn.errors);
  }
}
