/**
 * Structural validation against schemas/config/*.schema.json with ajv (draft 2020-12), turned into one
 * readable line per problem: `listeners[0].port: "eighty" is not valid: expected an integer from 0 to 65535`.
 *
 * The schemas carry a few annotations of our own:
 * - `x-expected`: what a valid value looks like, quoted in the message;
 * - `x-explain`: a specific explanation for well-known wrong values (e.g. `sqlite3`);
 * - `x-missing`: what a missing required key should hold, for required lists in if/then/else branches;
 * - `x-unknown-key` (as the `additionalProperties` schema): the key is unknown → a warning, not an error;
 * - `x-deprecated`: the key still works but is deprecated → a warning carrying the given text.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import databaseSchema from '../../../schemas/config/database.schema.json' with { type: 'json' };
import homeserverSchema from '../../../schemas/config/homeserver.schema.json' with { type: 'json' };
import instanceLocationSchema from '../../../schemas/config/instance-location.schema.json' with { type: 'json' };
import listenerSchema from '../../../schemas/config/listener.schema.json' with { type: 'json' };

export const CONFIG_SCHEMAS = {
  homeserver: homeserverSchema as Record<string, unknown>,
  listener: listenerSchema as Record<string, unknown>,
  database: databaseSchema as Record<string, unknown>,
  instanceLocation: instanceLocationSchema as Record<string, unknown>,
};

const WARNING_KEYWORDS = new Set(['x-unknown-key', 'x-deprecated']);
/** Combinators whose own errors only repeat what their subschemas already reported. */
const SILENT_KEYWORDS = new Set(['if', 'then', 'else', 'allOf', 'anyOf', 'oneOf', 'not', '$ref', 'propertyNames']);

let compiled: ValidateFunction | undefined;

function validator(): ValidateFunction {
  if (compiled) return compiled;
  const ajv = new Ajv2020({ allErrors: true, verbose: true, strict: true, strictTypes: false, strictRequired: false, allowUnionTypes: true });
  ajv.addKeyword({ keyword: 'x-expected', schemaType: 'string' });
  ajv.addKeyword({ keyword: 'x-explain', schemaType: 'object' });
  ajv.addKeyword({ keyword: 'x-missing', schemaType: 'string' });
  ajv.addKeyword({ keyword: 'x-unknown-key', schemaType: 'boolean', validate: () => false });
  ajv.addKeyword({ keyword: 'x-deprecated', schemaType: 'string', validate: () => false });
  ajv.addSchema([CONFIG_SCHEMAS.listener, CONFIG_SCHEMAS.database, CONFIG_SCHEMAS.instanceLocation]);
  compiled = ajv.compile(CONFIG_SCHEMAS.homeserver);
  return compiled;
}

export interface SchemaOutcome {
  problems: string[];
  warnings: string[];
}

/** Renders a value for a message: JSON, shortened. */
export function showValue(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function segmentText(segment: string, parentIsArray: boolean): string {
  if (parentIsArray && /^[0-9]+$/.test(segment)) return `[${segment}]`;
  return /^[A-Za-z0-9_-]+$/.test(segment) ? `.${segment}` : `[${JSON.stringify(segment)}]`;
}

/** `/listeners/0/port` → `listeners[0].port`, using the data to tell list indexes from mapping keys. */
export function keyPath(pointer: string, root: unknown, extra?: string): string {
  const segments = pointer === '' ? [] : pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (extra !== undefined) segments.push(extra);
  let node: unknown = root;
  let out = '';
  for (const seg of segments) {
    const isArray = Array.isArray(node);
    out += segmentText(seg, isArray);
    node = typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[seg] : undefined;
  }
  return out.startsWith('.') ? out.slice(1) : out || '(top level)';
}

function annotation(schema: unknown, key: string): unknown {
  return typeof schema === 'object' && schema !== null ? (schema as Record<string, unknown>)[key] : undefined;
}

function genericExpectation(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'type':
      return `a value of type ${String(p['type'])}`;
    case 'enum':
      return `one of ${(p['allowedValues'] as unknown[]).map((v) => String(v)).join(', ')}`;
    case 'const':
      return `exactly ${showValue(p['allowedValue'])}`;
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return `a number ${String(p['comparison'])} ${String(p['limit'])}`;
    case 'pattern':
      return `text matching ${String(p['pattern'])}`;
    case 'minLength':
      return 'a non-empty string';
    default:
      return e.message ?? 'a different value';
  }
}

function lineFor(e: ErrorObject, root: unknown): { path: string; text: string } {
  const parent = e.parentSchema;
  if (e.keyword === 'required') {
    const missing = String((e.params as { missingProperty: string }).missingProperty);
    const path = keyPath(e.instancePath, root, missing);
    const props = annotation(parent, 'properties');
    const expected = annotation(annotation(props, missing), 'x-expected') ?? annotation(parent, 'x-missing');
    return { path, text: expected ? `${path}: is missing: expected ${String(expected)}` : `${path}: is missing` };
  }
  if (e.keyword === 'additionalProperties') {
    const extra = String((e.params as { additionalProperty: string }).additionalProperty);
    const path = keyPath(e.instancePath, root, extra);
    const allowed = Object.keys((annotation(parent, 'properties') as Record<string, unknown> | undefined) ?? {});
    return { path, text: `${path}: is not a recognised key here: expected one of ${allowed.join(', ')}` };
  }
  if (e.propertyName !== undefined) {
    const path = keyPath(e.instancePath, root, e.propertyName);
    const expected = annotation(parent, 'x-expected') ?? genericExpectation(e);
    return { path, text: `${path}: the key ${showValue(e.propertyName)} is not valid: expected ${String(expected)}` };
  }
  const path = keyPath(e.instancePath, root);
  const explain = annotation(parent, 'x-explain') as Record<string, string> | undefined;
  if (explain && typeof e.data === 'string' && Object.hasOwn(explain, e.data)) {
    return { path, text: `${path}: ${showValue(e.data)} is not valid: ${explain[e.data]}` };
  }
  const expected = annotation(parent, 'x-expected') ?? genericExpectation(e);
  return { path, text: `${path}: ${showValue(e.data)} is not valid: expected ${String(expected)}` };
}

export function checkAgainstSchema(raw: unknown): SchemaOutcome {
  const validate = validator();
  if (validate(raw)) return { problems: [], warnings: [] };
  const problems = new Map<string, string>();
  const warnings: string[] = [];
  for (const e of validate.errors ?? []) {
    if (e.keyword === 'x-unknown-key') {
      warnings.push(`${keyPath(e.instancePath, raw)}: unknown key, ignored`);
    } else if (e.keyword === 'x-deprecated') {
      warnings.push(`${keyPath(e.instancePath, raw)}: ${String(e.schema)}`);
    } else if (!SILENT_KEYWORDS.has(e.keyword) && !WARNING_KEYWORDS.has(e.keyword)) {
      const { path, text } = lineFor(e, raw);
      // One line per key path: a bad value usually breaks several keywords at once.
      if (!problems.has(path)) problems.set(path, text);
    }
  }
  return { problems: [...problems.values()], warnings: [...new Set(warnings)] };
}
