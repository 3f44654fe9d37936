/** Reading the spec's OpenAPI response schemas (from /work/shared, when present) for shape checks. */
import fs from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import YAML from 'yaml';

export const SPEC_DIR = '/work/shared/matrix-spec/data/api/client-server';

/** A YAML file with every relative `$ref` (file, optionally with a JSON-pointer fragment) inlined. */
export function loadResolvedYaml(file: string): unknown {
  const files = new Map<string, unknown>();
  const load = (f: string): unknown => {
    if (!files.has(f)) files.set(f, YAML.parse(fs.readFileSync(f, 'utf8')));
    return files.get(f);
  };
  const inline = (node: unknown, base: string): unknown => {
    if (Array.isArray(node)) return node.map((n) => inline(n, base));
    if (typeof node !== 'object' || node === null) return node;
    const obj = node as Record<string, unknown>;
    if (typeof obj.$ref === 'string' && !obj.$ref.startsWith('#')) {
      const [rel, pointer] = obj.$ref.split('#');
      const target = path.resolve(path.dirname(base), rel as string);
      let value = load(target);
      for (const key of (pointer ?? '').split('/').filter(Boolean)) value = (value as Record<string, unknown>)[key];
      const { $ref: _ref, ...rest } = obj;
      return { ...(inline(value, target) as object), ...(inline(rest, base) as object) };
    }
    return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, inline(v, base)]));
  };
  return inline(load(file), file);
}

type Paths = Record<string, Record<string, { responses: Record<string, { content?: { 'application/json'?: { schema?: object } } }> }>>;

/** A checker for responses of the endpoints in one spec file: `check(path, method, status, body)`. */
export function responseChecker(file: string): (pathKey: string, method: string, status: string, body: unknown) => string | null {
  const paths = (loadResolvedYaml(path.join(SPEC_DIR, file)) as { paths: Paths }).paths;
  const ajv = new Ajv2020({ strict: false, allErrors: true, allowUnionTypes: true });
  return (pathKey, method, status, body) => {
    const schema = paths[pathKey]?.[method]?.responses[status]?.content?.['application/json']?.schema;
    if (!schema) return `no schema for ${method} ${pathKey} ${status}`;
    const validate = ajv.compile(schema);
    return validate(body) ? null : ajv.errorsText(validate.errors);
  };
}
