/**
 * Identifier checks the auth rules need. User IDs are validated with the historical
 * (permissive) grammar because rooms of every version contain such senders.
 */

const SERVER_NAME = /^(?:\[[0-9A-Fa-f:.]{2,45}\]|[0-9A-Za-z.-]{1,255})(?::[0-9]{1,5})?$/;

export function isValidServerName(name: string): boolean {
  return SERVER_NAME.test(name);
}

/** The domain part of `@user:domain`, `!room:domain` or `$event:domain`; undefined without a `:`. */
export function domainOf(id: string): string | undefined {
  const i = id.indexOf(':');
  return i < 0 ? undefined : id.slice(i + 1);
}

/** `@localpart:server_name`, localpart without `:` or NUL, at most 255 bytes in UTF-8. */
export function isValidUserId(id: unknown): id is string {
  if (typeof id !== 'string' || !id.startsWith('@')) return false;
  if (Buffer.byteLength(id, 'utf8') > 255 || !id.isWellFormed()) return false;
  const i = id.indexOf(':');
  if (i < 0 || id.slice(1, i).includes('\u0000')) return false;
  return isValidServerName(id.slice(i + 1));
}
