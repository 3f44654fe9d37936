/**
 * Cheap shape checks for identifiers that arrive in URLs, so malformed ones are a 400 rather than a
 * lookup that can never match. They check the sigil and the spec's 255-byte limit; the full grammar
 * belongs to whoever issues the identifiers.
 */
const MAX_ID_BYTES = 255;

function sized(id: string): boolean {
  return id.length > 1 && Buffer.byteLength(id, 'utf8') <= MAX_ID_BYTES;
}

/** `!opaque:server` (v1–v11) or `!hash` (v12). */
export function looksLikeRoomId(id: string): boolean {
  return id.startsWith('!') && sized(id);
}

export function looksLikeEventId(id: string): boolean {
  return id.startsWith('$') && sized(id);
}

/** `@localpart:server`, with a non-empty localpart and server name. */
export function looksLikeUserId(id: string): boolean {
  const colon = id.indexOf(':');
  return id.startsWith('@') && colon > 1 && colon < id.length - 1 && sized(id);
}
