/**
 * Typed access to query parameters with Matrix errors for bad values (400 M_INVALID_PARAM), so
 * handlers never parse `req.query` by hand.
 */
import type { Request } from 'express';
import { errors } from '@hs/core';

function raw(req: Request, name: string): string | undefined {
  const v = (req.query as Record<string, unknown>)[name];
  if (v === undefined) return undefined;
  if (Array.isArray(v)) return typeof v[0] === 'string' ? v[0] : undefined;
  return typeof v === 'string' ? v : undefined;
}

export function queryString(req: Request, name: string): string | undefined {
  return raw(req, name);
}

/** Every value of a repeated parameter (`?a=1&a=2`). */
export function queryStrings(req: Request, name: string): string[] {
  const v = (req.query as Record<string, unknown>)[name];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string');
}

export function queryInt(req: Request, name: string, opts: { min?: number; max?: number } = {}): number | undefined {
  const v = raw(req, name);
  if (v === undefined || v === '') return undefined;
  if (!/^-?\d+$/.test(v)) throw errors.invalidParam(`Query parameter ${name} must be an integer`);
  const n = Number(v);
  if (!Number.isSafeInteger(n) || (opts.min !== undefined && n < opts.min) || (opts.max !== undefined && n > opts.max)) {
    throw errors.invalidParam(`Query parameter ${name} is out of range`);
  }
  return n;
}

export function queryBool(req: Request, name: string): boolean | undefined {
  const v = raw(req, name);
  if (v === undefined) return undefined;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw errors.invalidParam(`Query parameter ${name} must be true or false`);
}
