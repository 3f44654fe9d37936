/**
 * User IDs and localparts: the grammar new registrations must follow (lower-case letters, digits and
 * `._=-/+`), Synapse's extra rules (no leading `_`, all-digit localparts reserved for generated IDs),
 * and parsing of IDs given at login.
 */
import { MatrixError, errors } from '@hs/core';

/** The longest user ID, in characters, as the spec's appendix allows. */
export const MAX_USER_ID_LENGTH = 255;
const LOCALPART = /^[a-z0-9._=\-/+]+$/;

function invalidUsername(msg: string): MatrixError {
  return new MatrixError(400, 'M_INVALID_USERNAME', msg);
}

/** Reject a localpart a new account may not have; returns the full user ID. */
export function checkNewLocalpart(localpart: string, serverName: string): string {
  if (localpart.length === 0) throw invalidUsername('User ID cannot be empty');
  if (!LOCALPART.test(localpart)) throw invalidUsername("User ID can only contain characters a-z, 0-9, or '=_-./+'");
  if (localpart.startsWith('_')) throw invalidUsername('User ID may not begin with _');
  if (/^\d+$/.test(localpart)) throw invalidUsername('Numeric user IDs are reserved for guest users.');
  const userId = `@${localpart}:${serverName}`;
  if (userId.length > MAX_USER_ID_LENGTH) throw invalidUsername(`User ID may not be longer than ${MAX_USER_ID_LENGTH} characters`);
  return userId;
}

/** `@local:server` → its parts; undefined when the string is not shaped like a user ID. */
export function parseUserId(userId: string): { localpart: string; server: string } | undefined {
  if (userId.length > MAX_USER_ID_LENGTH || !userId.startsWith('@')) return undefined;
  const colon = userId.indexOf(':');
  if (colon < 2 || colon === userId.length - 1) return undefined;
  return { localpart: userId.slice(1, colon), server: userId.slice(colon + 1) };
}

/** A user ID in a path: malformed → 400 M_INVALID_PARAM. */
export function requireUserId(userId: string): { localpart: string; server: string } {
  const parsed = parseUserId(userId);
  if (!parsed) throw errors.invalidParam('Invalid user ID');
  return parsed;
}

/** What a client typed at login (`alice` or `@alice:example.org`) as a full user ID on this server. */
export function qualifyLoginUser(user: string, serverName: string): string {
  return user.startsWith('@') ? user : `@${user}:${serverName}`;
}
