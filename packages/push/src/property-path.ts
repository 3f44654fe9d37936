/**
 * Dot-separated property paths (appendices › Dot-separated property paths): `content.m\.relates_to`
 * names `content` → `m.relates_to`. `\.` is a literal dot and `\\` a literal backslash; any other
 * backslash stays as written. Paths are split once when a rule is compiled; looking one up walks
 * plain objects only (arrays have no named properties), never finds inherited properties, and
 * allocates nothing.
 */

export function parsePropertyPath(path: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < path.length; i++) {
    const c = path[i] as string;
    if (c === '\\') {
      const next = path[i + 1];
      if (next === '.' || next === '\\') {
        current += next;
        i++;
      } else {
        current += c;
      }
    } else if (c === '.') {
      parts.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  parts.push(current);
  return parts;
}

/** The value at `path`, or undefined when any step is missing or not an object. */
export function lookupProperty(root: unknown, path: readonly string[]): unknown {
  let value = root;
  for (let i = 0; i < path.length; i++) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    const key = path[i] as string;
    if (!Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

export type PropertyGetter = (root: unknown) => unknown;

/** Names an event could only "have" through Object.prototype (`constructor`, `__proto__`, …). */
const INHERITED_NAMES: ReadonlySet<string> = new Set(Object.getOwnPropertyNames(Object.prototype));

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * `lookupProperty` specialised for one path, for the evaluator's hot loop: short paths are unrolled,
 * and the own-property check is only paid for names Object.prototype also has.
 */
export function propertyGetter(path: readonly string[]): PropertyGetter {
  if (path.some((k) => INHERITED_NAMES.has(k))) return (root) => lookupProperty(root, path);
  const [a, b, c] = path as [string, string, string];
  switch (path.length) {
    case 1:
      return (root) => (isPlainObject(root) ? root[a] : undefined);
    case 2:
      return (root) => {
        if (!isPlainObject(root)) return undefined;
        const x = root[a];
        return isPlainObject(x) ? x[b] : undefined;
      };
    case 3:
      return (root) => {
        if (!isPlainObject(root)) return undefined;
        const x = root[a];
        if (!isPlainObject(x)) return undefined;
        const y = x[b];
        return isPlainObject(y) ? y[c] : undefined;
      };
    default:
      return (root) => {
        let value = root;
        for (let i = 0; i < path.length; i++) {
          if (!isPlainObject(value)) return undefined;
          value = value[path[i] as string];
        }
        return value;
      };
  }
}
