/** User IDs in request bodies: which server owns them, and a 400 for ones that are not user IDs at all. */
import { errors } from '@hs/core';

/** The server name of `@localpart:server`, or undefined when `userId` is not shaped like a user ID. */
export function serverOfUserId(userId: string): string | undefined {
  if (typeof userId !== 'string' || userId.length > 255 || !userId.startsWith('@')) return undefined;
  const colon = userId.indexOf(':');
  if (colon < 2 || colon === userId.length - 1) return undefined;
  return userId.slice(colon + 1);
}

/** Like serverOfUserId, but a malformed ID is the client's error (400 M_INVALID_PARAM), as Synapse answers. */
export function requireServerOfUserId(userId: string): string {
  const server = serverOfUserId(userId);
  if (server === undefined) throw errors.invalidParam(`Invalid user ID: ${JSON.stringify(userId.slice(0, 100))}`);
  return server;
}
