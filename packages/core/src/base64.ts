/**
 * Matrix "unpadded base64" (appendices › Unpadded Base64) in the standard and URL-safe alphabets.
 * Encoders never pad; decoders accept padded or unpadded input but reject anything else —
 * Node's own decoder silently skips junk, which would let malformed signatures through.
 */

export class Base64Error extends Error {
  readonly code = 'invalid_base64';

  constructor(message: string) {
    super(message);
    this.name = 'Base64Error';
  }
}

const STANDARD = /^[A-Za-z0-9+/]*$/;
const URL_SAFE = /^[A-Za-z0-9_-]*$/;

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Standard alphabet, no padding. */
export function encodeBase64(bytes: Uint8Array): string {
  const s = toBuffer(bytes).toString('base64');
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 0x3d) end--;
  return s.slice(0, end);
}

/** URL-safe alphabet (`-`, `_`), no padding. */
export function encodeBase64Url(bytes: Uint8Array): string {
  return toBuffer(bytes).toString('base64url');
}

/** Decode the standard alphabet, padded or not. Throws Base64Error on malformed input. */
export function decodeBase64(s: string): Uint8Array {
  return decode(s, STANDARD, 'base64');
}

/** Decode the URL-safe alphabet, padded or not. Throws Base64Error on malformed input. */
export function decodeBase64Url(s: string): Uint8Array {
  return decode(s, URL_SAFE, 'base64url');
}

/** Like decodeBase64, but undefined instead of an exception. */
export function tryDecodeBase64(s: string): Uint8Array | undefined {
  try {
    return decodeBase64(s);
  } catch {
    return undefined;
  }
}

/** Like decodeBase64Url, but undefined instead of an exception. */
export function tryDecodeBase64Url(s: string): Uint8Array | undefined {
  try {
    return decodeBase64Url(s);
  } catch {
    return undefined;
  }
}

const EITHER = /^[A-Za-z0-9+/_-]*$/;

/**
 * Either alphabet, even mixed, as Synapse decodes signatures and hashes. Use this where being
 * stricter than the rest of the federation would drop events others accept.
 */
export function tryDecodeBase64AnyAlphabet(s: string): Uint8Array | undefined {
  try {
    return decode(s, EITHER, 'base64');
  } catch {
    return undefined;
  }
}

function decode(s: string, alphabet: RegExp, encoding: 'base64' | 'base64url'): Uint8Array {
  if (typeof s !== 'string') throw new Base64Error('base64 input must be a string');
  let body = s;
  if (s.endsWith('=')) {
    // Padding, if present, must make the length a multiple of 4 and be at most two characters.
    if (s.length % 4 !== 0) throw new Base64Error('bad base64 padding');
    body = s.endsWith('==') ? s.slice(0, -2) : s.slice(0, -1);
    if (body.endsWith('=') || body.length % 4 === 0) throw new Base64Error('bad base64 padding');
  }
  if (body.length % 4 === 1) throw new Base64Error('bad base64 length');
  if (!alphabet.test(body)) throw new Base64Error('invalid base64 character');
  // Non-zero trailing bits are tolerated (the spec's own test-vector seed has them).
  // Copy out of Node's shared pool so callers own a standalone buffer.
  return new Uint8Array(Buffer.from(body, encoding));
}
