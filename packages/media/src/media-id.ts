/**
 * Media IDs and server names as they reach us in URLs. Both end up in file paths, so anything that is
 * not plainly safe is refused before a path is ever built.
 */
import { randomBytes } from 'node:crypto';

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** A new local media ID: 24 random letters, as Synapse makes them (about 137 bits). */
export function generateMediaId(length = 24): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      // 208 = 4 × 52: rejecting the rest keeps every letter equally likely.
      if (byte < 208) out += LETTERS[byte % 52];
      if (out.length === length) break;
    }
  }
  return out;
}

/** Characters Synapse allows in a media store path component (IDs, and server names with ports/IPv6). */
const PATH_COMPONENT = /^[A-Za-z0-9_\-.[\]:]+$/;

/** Whether a string may be used as one path component: safe characters only, never `.` or `..`. */
export function isSafePathComponent(s: string): boolean {
  return s.length > 0 && s.length <= 255 && PATH_COMPONENT.test(s) && s !== '.' && s !== '..';
}

/**
 * Whether a local media ID could name a file in our store: safe characters and long enough for the
 * `ab/cd/rest` layout. Anything else cannot exist here, so callers answer 404.
 */
export function isPlausibleLocalMediaId(mediaId: string): boolean {
  if (mediaId.length < 5 || mediaId.length > 255 || !PATH_COMPONENT.test(mediaId)) return false;
  return [mediaId.slice(0, 2), mediaId.slice(2, 4), mediaId.slice(4)].every((c) => c !== '.' && c !== '..');
}

const DNS_NAME = /^[A-Za-z0-9.-]{1,255}$/;
const IPV6_LITERAL = /^\[[0-9A-Fa-f:.]{2,45}\]$/;

/** The spec's server name grammar: `hostname [":" port]`, hostname a DNS name, IPv4 or `[IPv6]`. */
export function isValidServerName(name: string): boolean {
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d{1,5}))?$/.exec(name);
  if (!m) return false;
  const host = m[1] ?? '';
  const port = m[2];
  if (port !== undefined && Number(port) > 65535) return false;
  return host.startsWith('[') ? IPV6_LITERAL.test(host) : DNS_NAME.test(host);
}
