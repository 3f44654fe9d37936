/**
 * Secrets handed to clients: 256-bit random values, prefixed by kind so a leaked string says what it
 * is. Only their sha256 is stored, so a database leak gives nobody a usable token.
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';

export type TokenKind = 'access' | 'refresh' | 'login';
const PREFIX: Record<TokenKind, string> = { access: 'hsat_', refresh: 'hsrt_', login: 'hslt_' };

export function newToken(kind: TokenKind): string {
  return PREFIX[kind] + randomBytes(32).toString('base64url');
}

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

const DEVICE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** Ten upper-case letters, like Synapse's device IDs. */
export function newDeviceId(): string {
  let out = '';
  for (let i = 0; i < 10; i++) out += DEVICE_ALPHABET[randomInt(DEVICE_ALPHABET.length)];
  return out;
}

const OPAQUE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A random string over [A-Za-z0-9] (UIA session IDs, nonces). */
export function randomString(length: number, alphabet = OPAQUE_ALPHABET): string {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}
