/**
 * Input the database would refuse with an error (a 500) is refused up front with a 400 instead:
 *   - Postgres text cannot hold U+0000, so no string, object key or path parameter may contain it;
 *   - identifiers end up in multi-column btree keys, which cap an entry at about 2.7 kB, so path
 *     parameters and object keys are limited to 512 UTF-8 bytes (Matrix IDs are at most 255).
 * Neither limit touches anything a Matrix client legitimately sends.
 */
import { errors } from '@hs/core';
import type { Handler } from '@hs/http';

export const MAX_IDENTIFIER_BYTES = 512;

function tooLong(s: string): boolean {
  return s.length > MAX_IDENTIFIER_BYTES / 3 && Buffer.byteLength(s, 'utf8') > MAX_IDENTIFIER_BYTES;
}

/** The first problem in `value`, or undefined. */
function problemIn(value: unknown, depth: number): string | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? 'Strings must not contain U+0000' : undefined;
  if (typeof value !== 'object' || value === null || depth > 100) return undefined;
  if (Array.isArray(value)) {
    for (const v of value) {
      const p = problemIn(v, depth + 1);
      if (p) return p;
    }
    return undefined;
  }
  for (const [k, v] of Object.entries(value)) {
    if (k.includes('\u0000')) return 'Strings must not contain U+0000';
    if (tooLong(k)) return `Identifier longer than ${MAX_IDENTIFIER_BYTES} bytes`;
    const p = problemIn(v, depth + 1);
    if (p) return p;
  }
  return undefined;
}

export function guardingInput(handler: Handler): Handler {
  return (ctx) => {
    for (const v of Object.values(ctx.params)) {
      if (v.includes('\u0000')) throw errors.invalidParam('Strings must not contain U+0000');
      if (tooLong(v)) throw errors.invalidParam(`Path parameter longer than ${MAX_IDENTIFIER_BYTES} bytes`);
    }
    const problem = problemIn(ctx.body, 0);
    if (problem) throw errors.invalidParam(problem);
    return handler(ctx);
  };
}
