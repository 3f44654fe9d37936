/**
 * The MAC of Synapse's shared-secret registration: hex HMAC-SHA1, keyed by the shared secret, over
 * `nonce \0 username \0 password \0 ("admin" | "notadmin")`, followed by `\0 user_type` when a user
 * type is given. Shared by the server check and the registering client.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface MacFields {
  readonly nonce: string;
  readonly username: string;
  readonly password: string;
  readonly admin: boolean;
  readonly userType?: string | null | undefined;
}

export function sharedSecretMac(secret: string, f: MacFields): string {
  const mac = createHmac('sha1', Buffer.from(secret, 'utf8'));
  mac.update(f.nonce, 'utf8');
  mac.update('\u0000');
  mac.update(f.username, 'utf8');
  mac.update('\u0000');
  mac.update(f.password, 'utf8');
  mac.update('\u0000');
  mac.update(f.admin ? 'admin' : 'notadmin');
  if (f.userType) {
    mac.update('\u0000');
    mac.update(f.userType, 'utf8');
  }
  return mac.digest('hex');
}

/** Compare a client's hex MAC with the expected one in constant time. */
export function macMatches(expectedHex: string, givenHex: string): boolean {
  const expected = Buffer.from(expectedHex, 'utf8');
  const given = Buffer.from(givenHex.toLowerCase(), 'utf8');
  // The length of a SHA-1 hex digest is no secret; only the content is compared in constant time.
  if (given.length !== expected.length) return false;
  return timingSafeEqual(expected, given);
}
