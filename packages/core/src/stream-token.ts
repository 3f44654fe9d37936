/**
 * Stream positions as clients and other processes see them (DESIGN.md §3).
 *
 * A position on a multi-writer stream is "everything up to `min` is persisted, and these writers are
 * further ahead": encoded `m{min}~{writerId}.{pos}~…` like Synapse, or just `{min}` when nobody is ahead.
 * Writer IDs are the small integers that storage assigns to instance names, so tokens stay short and
 * valid on every process.
 */

export interface MultiWriterPosition {
  readonly min: number;
  /** writer ID → position, only for writers strictly ahead of `min`. */
  readonly ahead: ReadonlyMap<number, number>;
}

export class TokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenError';
  }
}

const UINT = /^(0|[1-9][0-9]{0,15})$/;

function parseUint(text: string, what: string): number {
  if (!UINT.test(text)) throw new TokenError(`invalid ${what}: ${JSON.stringify(text)}`);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new TokenError(`invalid ${what}: out of range`);
  return n;
}

export function positionOf(min: number, ahead?: Iterable<[number, number]>): MultiWriterPosition {
  const kept = new Map<number, number>();
  for (const [writer, pos] of ahead ?? []) if (pos > min) kept.set(writer, pos);
  return { min, ahead: kept };
}

/** The position a reader may use for `writer`: its own entry if ahead, else the shared minimum. */
export function positionFor(p: MultiWriterPosition, writer: number): number {
  return p.ahead.get(writer) ?? p.min;
}

/** The highest position any writer has reached (what a client has possibly seen). */
export function maxPosition(p: MultiWriterPosition): number {
  let max = p.min;
  for (const pos of p.ahead.values()) if (pos > max) max = pos;
  return max;
}

export function encodePosition(p: MultiWriterPosition): string {
  if (p.ahead.size === 0) return String(p.min);
  const parts = [...p.ahead].sort((a, b) => a[0] - b[0]).map(([w, pos]) => `${w}.${pos}`);
  return `m${p.min}~${parts.join('~')}`;
}

export function decodePosition(text: string): MultiWriterPosition {
  if (!text.startsWith('m')) return { min: parseUint(text, 'position'), ahead: new Map() };
  const [minText, ...rest] = text.slice(1).split('~');
  const min = parseUint(minText ?? '', 'position');
  const ahead = new Map<number, number>();
  const seen = new Set<number>();
  for (const part of rest) {
    const dot = part.indexOf('.');
    if (dot < 0) throw new TokenError(`invalid writer position: ${JSON.stringify(part)}`);
    const writer = parseUint(part.slice(0, dot), 'writer id');
    const pos = parseUint(part.slice(dot + 1), 'writer position');
    if (seen.has(writer)) throw new TokenError(`duplicate writer ${writer} in position`);
    seen.add(writer);
    if (pos > min) ahead.set(writer, pos);
  }
  return { min, ahead };
}

/** The streams a /sync token carries, in token order. The order is part of the token format: append only. */
export const SYNC_TOKEN_STREAMS = [
  'events',
  'presence',
  'typing',
  'receipts',
  'account_data',
  'push_rules',
  'to_device',
  'device_lists',
  'un_partial_stated_room',
] as const;

export type SyncTokenStream = (typeof SYNC_TOKEN_STREAMS)[number];
export type SyncToken = Readonly<Record<SyncTokenStream, MultiWriterPosition>>;

const ZERO: MultiWriterPosition = { min: 0, ahead: new Map() };

export function emptySyncToken(): SyncToken {
  return Object.fromEntries(SYNC_TOKEN_STREAMS.map((s) => [s, ZERO])) as SyncToken;
}

/** `s` + positions joined by `_`. Older tokens with fewer parts decode with the missing streams at 0. */
export function encodeSyncToken(token: SyncToken): string {
  return 's' + SYNC_TOKEN_STREAMS.map((s) => encodePosition(token[s])).join('_');
}

export function decodeSyncToken(text: string): SyncToken {
  if (!text.startsWith('s') || text.length > 4096) throw new TokenError('not a sync token');
  const parts = text.slice(1).split('_');
  if (parts.length > SYNC_TOKEN_STREAMS.length) throw new TokenError('sync token has too many parts');
  const out: Record<string, MultiWriterPosition> = {};
  SYNC_TOKEN_STREAMS.forEach((s, i) => {
    const part = parts[i];
    out[s] = part === undefined ? ZERO : decodePosition(part);
  });
  return out as SyncToken;
}

/**
 * A room pagination token: `s{position}` for a point in the stream, `t{depth}-{position}` for a point in
 * the room's topological order (what /messages returns).
 */
export interface RoomToken {
  readonly topological?: number;
  readonly stream: MultiWriterPosition;
}

export function encodeRoomToken(t: RoomToken): string {
  const stream = encodePosition(t.stream);
  return t.topological === undefined ? `s${stream}` : `t${t.topological}-${stream}`;
}

export function decodeRoomToken(text: string): RoomToken {
  if (text.length > 4096) throw new TokenError('room token too long');
  if (text.startsWith('s')) return { stream: decodePosition(text.slice(1)) };
  if (text.startsWith('t')) {
    const dash = text.indexOf('-');
    if (dash < 0) throw new TokenError('invalid topological token');
    return { topological: parseUint(text.slice(1, dash), 'depth'), stream: decodePosition(text.slice(dash + 1)) };
  }
  throw new TokenError('not a room token');
}
