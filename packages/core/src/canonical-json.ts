/**
 * Matrix canonical JSON (appendices › Signing JSON › Canonical JSON): the byte form that
 * signatures, content hashes and reference hashes (event IDs) are computed over. One wrong byte
 * here breaks federation silently, so the encoder refuses anything it cannot encode exactly.
 */
import type { JsonObject, JsonValue } from './json.ts';

/** ±(2^53 − 1): the integer range canonical JSON allows. */
export const CANONICAL_JSON_MAX_INT = Number.MAX_SAFE_INTEGER;
export const CANONICAL_JSON_MIN_INT = -Number.MAX_SAFE_INTEGER;

/** Nesting limit for both directions; deep enough for any real event, shallow enough for the stack. */
const DEFAULT_MAX_DEPTH = 1000;

export type CanonicalJsonErrorCode =
  | 'syntax'
  | 'invalid_utf8'
  | 'lone_surrogate'
  | 'float'
  | 'integer_out_of_range'
  | 'non_finite'
  | 'duplicate_key'
  | 'too_deep'
  | 'unsupported_type';

export class CanonicalJsonError extends Error {
  readonly code: CanonicalJsonErrorCode;
  /** Offset in the input text, for parse errors. */
  readonly position: number | undefined;

  constructor(code: CanonicalJsonErrorCode, message: string, position?: number) {
    super(message);
    this.name = 'CanonicalJsonError';
    this.code = code;
    this.position = position;
  }
}

export interface CanonicalJsonOptions {
  /**
   * Room versions 1–5 must not enforce the number rules: encode out-of-range integers and
   * non-integral floats the way Synapse would re-encode them (Python int digits / `repr`), so
   * hashes of old events still match. Integers beyond 2^53 are only as exact as a double: pass
   * a bigint for exact digits. NaN and ±Infinity are never encodable.
   */
  readonly lenientNumbers?: boolean;
  readonly maxDepth?: number;
}

/** Encode a value as canonical JSON text (encode the result as UTF-8 for the bytes). */
export function canonicalJson(value: unknown, options: CanonicalJsonOptions = {}): string {
  return encodeValue(value, options.lenientNumbers === true, options.maxDepth ?? DEFAULT_MAX_DEPTH, 0);
}

const utf8 = new TextEncoder();

/** The canonical JSON as UTF-8 bytes, the input to signing and hashing. */
export function canonicalJsonBytes(value: unknown, options: CanonicalJsonOptions = {}): Uint8Array {
  return utf8.encode(canonicalJson(value, options));
}

/** True when `value` is encodable under the strict (room v6+) rules. */
export function isCanonicalJsonValue(value: unknown): boolean {
  try {
    canonicalJson(value);
    return true;
  } catch (e) {
    if (e instanceof CanonicalJsonError) return false;
    throw e;
  }
}

function encodeValue(value: unknown, lenient: boolean, maxDepth: number, depth: number): string {
  switch (typeof value) {
    case 'string':
      return encodeString(value);
    case 'number':
      return encodeNumber(value, lenient);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      if (value < BigInt(CANONICAL_JSON_MIN_INT) || value > BigInt(CANONICAL_JSON_MAX_INT)) {
        if (!lenient) throw new CanonicalJsonError('integer_out_of_range', `integer ${value} is out of range`);
      }
      return value.toString();
    case 'object': {
      if (value === null) return 'null';
      if (depth >= maxDepth) throw new CanonicalJsonError('too_deep', `nesting deeper than ${maxDepth}`);
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ',';
          const item: unknown = value[i];
          if (item === undefined) throw new CanonicalJsonError('unsupported_type', 'undefined in array');
          out += encodeValue(item, lenient, maxDepth, depth + 1);
        }
        return out + ']';
      }
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        throw new CanonicalJsonError('unsupported_type', `cannot encode ${describe(value)}`);
      }
      const obj = value as Record<string, unknown>;
      const keys = sortKeys(Object.keys(obj));
      let out = '{';
      let first = true;
      for (const key of keys) {
        const v = obj[key];
        // Absent optional fields are common on typed objects; JSON.stringify skips them too.
        if (v === undefined) continue;
        if (!first) out += ',';
        first = false;
        out += encodeString(key) + ':' + encodeValue(v, lenient, maxDepth, depth + 1);
      }
      return out + '}';
    }
    default:
      throw new CanonicalJsonError('unsupported_type', `cannot encode ${describe(value)}`);
  }
}

function describe(value: unknown): string {
  if (typeof value !== 'object' || value === null) return typeof value;
  return (value as object).constructor?.name ?? 'object';
}

/**
 * JSON.stringify already emits exactly the canonical escapes (the short ones, lowercase
 * `\u00XX` for other controls, everything else raw); the one thing it would do differently is
 * escape lone surrogates, which have no UTF-8 form and so cannot be canonical at all.
 */
function encodeString(s: string): string {
  if (!s.isWellFormed()) throw new CanonicalJsonError('lone_surrogate', 'string contains a lone surrogate');
  return JSON.stringify(s);
}

function encodeNumber(n: number, lenient: boolean): string {
  if (!Number.isFinite(n)) throw new CanonicalJsonError('non_finite', `${n} is not a JSON number`);
  if (Number.isInteger(n)) {
    // String(-0) is "0": the spec's example maps -0 to 0.
    if (n >= CANONICAL_JSON_MIN_INT && n <= CANONICAL_JSON_MAX_INT) return String(n);
    if (!lenient) throw new CanonicalJsonError('integer_out_of_range', `integer ${n} is out of range`);
    // A double cannot say which digits it was parsed from. Guess the likeliest source: a JS
    // sender's JSON.stringify (shortest digits, exponent from 1e21), which Synapse then
    // re-encodes as the integer it read or, for exponents, as a Python float.
    return Math.abs(n) < 1e21 ? String(n) : pythonFloatRepr(n);
  }
  if (!lenient) throw new CanonicalJsonError('float', `${n} is not an integer`);
  return pythonFloatRepr(n);
}

/**
 * Python's `repr(float)`: the shortest round-tripping digits (the same digits JS picks), laid out
 * in fixed notation for decimal exponents −4..15 and as `d.ddde±XX` otherwise.
 */
export function pythonFloatRepr(n: number): string {
  const [mantissa = '', expText = '0'] = n.toExponential().split('e');
  const negative = mantissa.startsWith('-');
  const digits = mantissa.replace('-', '').replace('.', '');
  const exp = Number(expText);
  let body: string;
  if (exp >= -4 && exp < 16) {
    if (exp >= 0) {
      const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
      const frac = digits.slice(exp + 1);
      body = `${intPart}.${frac === '' ? '0' : frac}`;
    } else {
      body = `0.${'0'.repeat(-exp - 1)}${digits}`;
    }
  } else {
    const frac = digits.slice(1);
    const absExp = Math.abs(exp);
    body = `${digits[0]}${frac === '' ? '' : '.' + frac}e${exp < 0 ? '-' : '+'}${absExp < 10 ? '0' : ''}${absExp}`;
  }
  return negative ? '-' + body : body;
}

const SURROGATE = /[\uD800-\uDFFF]/;

/**
 * Sort keys by Unicode code point. Default JS sort compares UTF-16 code units, which differs
 * only when a surrogate (astral character) meets a BMP character in U+E000–U+FFFF.
 */
function sortKeys(keys: string[]): string[] {
  if (keys.length < 2) return keys;
  for (const k of keys) {
    if (SURROGATE.test(k)) return keys.sort(compareCodePoints);
  }
  return keys.sort();
}

/** Compare two strings by code point. */
export function compareCodePoints(a: string, b: string): number {
  const len = Math.min(a.length, b.length);
  for (let i = 0; i < len; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

/** Move surrogates (astral code points) above U+E000–U+FFFF while keeping each group's order. */
function codePointRank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit >= 0xe000 ? unit - 0x800 : unit + 0x2000;
}

// ---------------------------------------------------------------------------------------------
// Parsing

export interface ParseCanonicalJsonOptions {
  /**
   * Room v6+ federation input: integers only, within ±(2^53 − 1), no fractions or exponents,
   * no duplicate keys. Non-strict (room v1–5) accepts any JSON number (as a JS number; integers
   * beyond 2^53 lose precision) and lets the last duplicate key win, like Python's json module.
   */
  readonly strict: boolean;
  readonly maxDepth?: number;
}

/**
 * Parse JSON text (or UTF-8 bytes) from an untrusted peer. Whitespace and key order are free;
 * the value rules follow `strict`. Always throws CanonicalJsonError, never anything else.
 */
export function parseCanonicalJson(text: string | Uint8Array, options: ParseCanonicalJsonOptions): JsonValue {
  let source: string;
  if (typeof text === 'string') {
    source = text;
  } else {
    try {
      source = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(text);
    } catch {
      throw new CanonicalJsonError('invalid_utf8', 'input is not valid UTF-8');
    }
  }
  const parser = new Parser(source, options.strict, options.maxDepth ?? DEFAULT_MAX_DEPTH);
  return parser.parseDocument();
}

const WS_SPACE = 0x20;
const WS_TAB = 0x09;
const WS_LF = 0x0a;
const WS_CR = 0x0d;

class Parser {
  private readonly s: string;
  private readonly strict: boolean;
  private readonly maxDepth: number;
  private pos = 0;

  constructor(s: string, strict: boolean, maxDepth: number) {
    this.s = s;
    this.strict = strict;
    this.maxDepth = maxDepth;
  }

  parseDocument(): JsonValue {
    this.skipWs();
    const value = this.parseValue(0);
    this.skipWs();
    if (this.pos !== this.s.length) this.fail('syntax', 'unexpected data after the JSON value');
    return value;
  }

  private fail(code: CanonicalJsonErrorCode, message: string): never {
    throw new CanonicalJsonError(code, `${message} at offset ${this.pos}`, this.pos);
  }

  private skipWs(): void {
    const s = this.s;
    let p = this.pos;
    while (p < s.length) {
      const c = s.charCodeAt(p);
      if (c !== WS_SPACE && c !== WS_LF && c !== WS_CR && c !== WS_TAB) break;
      p++;
    }
    this.pos = p;
  }

  private parseValue(depth: number): JsonValue {
    const c = this.s.charCodeAt(this.pos);
    switch (c) {
      case 0x7b: // {
        return this.parseObject(depth);
      case 0x5b: // [
        return this.parseArray(depth);
      case 0x22: // "
        return this.parseString();
      case 0x74: // t
        return this.parseLiteral('true', true);
      case 0x66: // f
        return this.parseLiteral('false', false);
      case 0x6e: // n
        return this.parseLiteral('null', null);
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.parseNumber();
        return this.fail('syntax', this.pos >= this.s.length ? 'unexpected end of input' : 'unexpected character');
    }
  }

  private parseLiteral<T extends JsonValue>(word: string, value: T): T {
    if (!this.s.startsWith(word, this.pos)) this.fail('syntax', 'invalid literal');
    this.pos += word.length;
    return value;
  }

  private parseObject(depth: number): JsonObject {
    if (depth >= this.maxDepth) this.fail('too_deep', `nesting deeper than ${this.maxDepth}`);
    this.pos++; // {
    const obj: JsonObject = {};
    this.skipWs();
    if (this.s.charCodeAt(this.pos) === 0x7d) {
      this.pos++;
      return obj;
    }
    for (;;) {
      if (this.s.charCodeAt(this.pos) !== 0x22) this.fail('syntax', 'expected a string key');
      const keyPos = this.pos;
      const key = this.parseString();
      this.skipWs();
      if (this.s.charCodeAt(this.pos) !== 0x3a) this.fail('syntax', "expected ':'");
      this.pos++;
      this.skipWs();
      const value = this.parseValue(depth + 1);
      if (Object.hasOwn(obj, key)) {
        if (this.strict) {
          this.pos = keyPos;
          this.fail('duplicate_key', `duplicate key ${JSON.stringify(key)}`);
        }
      }
      setOwnProperty(obj, key, value);
      this.skipWs();
      const c = this.s.charCodeAt(this.pos);
      if (c === 0x2c) {
        this.pos++;
        this.skipWs();
        continue;
      }
      if (c === 0x7d) {
        this.pos++;
        return obj;
      }
      this.fail('syntax', "expected ',' or '}'");
    }
  }

  private parseArray(depth: number): JsonValue[] {
    if (depth >= this.maxDepth) this.fail('too_deep', `nesting deeper than ${this.maxDepth}`);
    this.pos++; // [
    const arr: JsonValue[] = [];
    this.skipWs();
    if (this.s.charCodeAt(this.pos) === 0x5d) {
      this.pos++;
      return arr;
    }
    for (;;) {
      arr.push(this.parseValue(depth + 1));
      this.skipWs();
      const c = this.s.charCodeAt(this.pos);
      if (c === 0x2c) {
        this.pos++;
        this.skipWs();
        continue;
      }
      if (c === 0x5d) {
        this.pos++;
        return arr;
      }
      this.fail('syntax', "expected ',' or ']'");
    }
  }

  private parseString(): string {
    const s = this.s;
    let p = this.pos + 1; // after the opening quote
    let out = '';
    let runStart = p;
    for (;;) {
      if (p >= s.length) {
        this.pos = p;
        this.fail('syntax', 'unterminated string');
      }
      const c = s.charCodeAt(p);
      if (c === 0x22) break;
      if (c < 0x20) {
        this.pos = p;
        this.fail('syntax', 'unescaped control character in string');
      }
      if (c !== 0x5c) {
        p++;
        continue;
      }
      out += s.slice(runStart, p);
      const e = s.charCodeAt(p + 1);
      switch (e) {
        case 0x22:
          out += '"';
          break;
        case 0x5c:
          out += '\\';
          break;
        case 0x2f:
          out += '/';
          break;
        case 0x62:
          out += '\b';
          break;
        case 0x66:
          out += '\f';
          break;
        case 0x6e:
          out += '\n';
          break;
        case 0x72:
          out += '\r';
          break;
        case 0x74:
          out += '\t';
          break;
        case 0x75: {
          const hex = s.slice(p + 2, p + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
            this.pos = p;
            this.fail('syntax', 'invalid \\u escape');
          }
          out += String.fromCharCode(parseInt(hex, 16));
          p += 4;
          break;
        }
        default:
          this.pos = p;
          this.fail('syntax', 'invalid escape');
      }
      p += 2;
      runStart = p;
    }
    out += s.slice(runStart, p);
    // Escaped lone surrogates (\ud800) decode fine but can never be re-encoded as UTF-8.
    if (!out.isWellFormed()) {
      this.pos = runStart;
      this.fail('lone_surrogate', 'string contains a lone surrogate');
    }
    this.pos = p + 1;
    return out;
  }

  private parseNumber(): number {
    const s = this.s;
    const start = this.pos;
    let p = start;
    if (s.charCodeAt(p) === 0x2d) p++;
    const intStart = p;
    let c = s.charCodeAt(p);
    if (c === 0x30) {
      p++;
    } else if (c >= 0x31 && c <= 0x39) {
      while (p < s.length && (c = s.charCodeAt(p)) >= 0x30 && c <= 0x39) p++;
    } else {
      this.pos = p;
      this.fail('syntax', 'invalid number');
    }
    const intEnd = p;
    let isFloat = false;
    if (s.charCodeAt(p) === 0x2e) {
      isFloat = true;
      p++;
      const fracStart = p;
      while (p < s.length && (c = s.charCodeAt(p)) >= 0x30 && c <= 0x39) p++;
      if (p === fracStart) {
        this.pos = p;
        this.fail('syntax', 'invalid number');
      }
    }
    c = s.charCodeAt(p);
    if (c === 0x65 || c === 0x45) {
      isFloat = true;
      p++;
      c = s.charCodeAt(p);
      if (c === 0x2b || c === 0x2d) p++;
      const expStart = p;
      while (p < s.length && (c = s.charCodeAt(p)) >= 0x30 && c <= 0x39) p++;
      if (p === expStart) {
        this.pos = p;
        this.fail('syntax', 'invalid number');
      }
    }
    this.pos = p;
    const text = s.slice(start, p);
    if (isFloat) {
      if (this.strict) {
        this.pos = start;
        this.fail('float', `non-integer number ${text}`);
      }
      const n = Number(text);
      if (!Number.isFinite(n)) {
        this.pos = start;
        this.fail('non_finite', `number ${text} overflows`);
      }
      return n;
    }
    // 16+ digits may exceed 2^53 − 1; compare exactly rather than after rounding.
    if (intEnd - intStart >= 16) {
      const big = BigInt(text);
      if (big > BigInt(CANONICAL_JSON_MAX_INT) || big < BigInt(CANONICAL_JSON_MIN_INT)) {
        if (this.strict) {
          this.pos = start;
          this.fail('integer_out_of_range', `integer ${text} is out of range`);
        }
        const n = Number(text);
        if (!Number.isFinite(n)) {
          this.pos = start;
          this.fail('non_finite', `number ${text} overflows`);
        }
        return n;
      }
    }
    // "-0" parses to the integer 0, as in Python: it re-encodes as "0".
    const n = Number(text);
    return n === 0 ? 0 : n;
  }
}

/** Assign an own data property, including `__proto__`, without touching the prototype chain. */
export function setOwnProperty(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}
