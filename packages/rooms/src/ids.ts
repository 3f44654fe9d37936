/** Matrix identifier helpers the rooms domain needs (appendices › Identifier Grammar). */
import { randomBytes } from 'node:crypto';

/** The server part of `@user:server`, `#alias:server`, `!room:server` or `$event:server`. */
export function serverOf(id: string): string | undefined {
  const i = id.indexOf(':');
  return i < 0 ? undefined : id.slice(i + 1);
}

// No whitespace or control characters (Postgres text cannot even hold NUL).
const USER_ID = /^@[^:\s\p{Cc}]+:[^\s/\p{Cc}]+$/u;

/** A user ID we can put into an event: `@localpart:server`, at most 255 bytes. */
export function isValidUserId(id: unknown): id is string {
  return typeof id === 'string' && USER_ID.test(id) && Buffer.byteLength(id) <= 255;
}

/** A room alias `#localpart:server`, at most 255 bytes. */
export function isValidRoomAlias(alias: unknown): alias is string {
  return typeof alias === 'string' && /^#[^:\s\p{Cc}]*:[^\s/\p{Cc}]+$/u.test(alias) && Buffer.byteLength(alias) <= 255;
}

const ROOM_ID_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** A fresh room ID for versions 1–11 (`!` + 18 random letters + `:server`, as Synapse makes them). */
export function newRoomId(serverName: string): string {
  const bytes = randomBytes(18);
  let local = '';
  for (const b of bytes) local += ROOM_ID_CHARS[b % ROOM_ID_CHARS.length];
  return `!${local}:${serverName}`;
}

/** The txn scope of a requester: transaction IDs are per device, or per access token without one. */
export function txnScopeOf(r: { deviceId?: string; tokenId?: number; appserviceId?: string }): string {
  if (r.deviceId !== undefined) return r.deviceId;
  if (r.tokenId !== undefined) return `token:${r.tokenId}`;
  return `as:${r.appserviceId ?? ''}`;
}

/** A client's send transaction (user, device or token scope, transaction ID). */
export interface TxnKey {
  readonly userId: string;
  readonly scope: string;
  readonly txnId: string;
}

/** One string per send transaction, for maps. */
export function txnKeyOf(t: TxnKey): string {
  return `${t.userId}\u0000${t.scope}\u0000${t.txnId}`;
}

/** An event ID we may look up or point at (`$…`, no control characters). */
export function isPlausibleEventId(id: unknown): id is string {
  return typeof id === 'string' && /^\$[^\p{Cc}]+$/u.test(id) && Buffer.byteLength(id) <= 255;
}

/** Postgres text columns cannot hold NUL: such input is refused before it reaches a query. */
export function hasNul(s: string): boolean {
  return s.includes('\u0000');
}
