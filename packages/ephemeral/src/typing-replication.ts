/**
 * The typing stream between processes (Synapse's model): typing lives in memory on its writer, so
 *  - workers forward typing changes to the writer (`typing_start`, `typing_stop`), which answers the
 *    typing serial after the change as `{position}`;
 *  - the writer announces one row per change, `{id, room_id, user_ids, epoch}` (`TypingChangeRow`), to every process's
 *    `TypingMirror`;
 *  - a mirror that missed rows, or sees a new epoch (the writer restarted and counts from 0 again),
 *    asks the writer itself (`typing_rows`), since no database holds typing.
 */
import { isJsonObject, type JsonObject, type JsonValue } from '@hs/core';
import { bodyFields, countField, forwardPositionedWrite, nonEmptyTextField, optionalField, registerWriteEndpoint, roomIdField, userIdField, type ReplicatedWriterOptions, type ReplicationCaller, type ReplicationEndpointRegistry } from '@hs/replication';
import { MAX_TYPING_TIMEOUT_MS, type TypingState, type TypingWriter } from './typing-state.ts';

const STREAM = 'typing';

/** A room's complete typing set as of serial `id`. */
export interface TypingRow extends JsonObject {
  id: number;
  room_id: string;
  user_ids: string[];
}

/** What the writer announces per change: the row and the writer's `epoch`. */
export interface TypingChangeRow extends TypingRow {
  epoch: string;
}

/** The writer's answer to `typing_rows`. */
export interface TypingRowsAnswer {
  readonly epoch: string;
  /** The writer's serial: the rows cover (from, position]. */
  readonly position: number;
  /** True when `rows` are the writer's whole state (a different epoch, or `from` too old): replace, don't merge. */
  readonly full: boolean;
  readonly rows: readonly TypingRow[];
}

/** The answer to a mirror at `from` of `epoch` (none for a mirror that knows nothing yet). */
export function typingRowsAnswer(state: TypingState, from: number, epoch: string | undefined): TypingRowsAnswer {
  const full = epoch !== state.epoch || from < state.forgottenUpTo || from > state.position;
  return { epoch: state.epoch, position: state.position, full, rows: state.typingRowsSince(full ? 0 : from) };
}

/**
 * `typing_start` `{room_id, user_id, timeout_ms}` and `typing_stop` `{room_id, user_id}` → `{position}`;
 * `typing_rows` `{from, epoch?}` → a `TypingRowsAnswer`.
 */
export function registerTypingReplicationEndpoints(server: ReplicationEndpointRegistry, local: TypingState): void {
  registerWriteEndpoint(server, 'typing_start', (b) => {
    const roomId = roomIdField(b, 'room_id');
    const userId = userIdField(b, 'user_id');
    const timeoutMs = Math.min(countField(b, 'timeout_ms'), MAX_TYPING_TIMEOUT_MS);
    return local.start(roomId, userId, timeoutMs);
  });
  registerWriteEndpoint(server, 'typing_stop', (b) => local.stop(roomIdField(b, 'room_id'), userIdField(b, 'user_id')));
  server.register({
    name: 'typing_rows',
    handler({ body }) {
      const b = bodyFields(body);
      const answer = typingRowsAnswer(local, countField(b, 'from'), optionalField(b, 'epoch', nonEmptyTextField));
      return { ...answer, rows: [...answer.rows] };
    },
  });
}

/** A `TypingWriter` for processes that are not the typing writer. */
export class ReplicatedTypingWriter implements TypingWriter {
  private readonly opts: ReplicatedWriterOptions;

  constructor(opts: ReplicatedWriterOptions) {
    this.opts = opts;
  }

  // The writer's typing serial moves on every start and stop.
  start(roomId: string, userId: string, timeoutMs: number): Promise<number> {
    return forwardPositionedWrite(this.opts, STREAM, 'typing_start', { room_id: roomId, user_id: userId, timeout_ms: timeoutMs });
  }

  stop(roomId: string, userId: string): Promise<number> {
    return forwardPositionedWrite(this.opts, STREAM, 'typing_stop', { room_id: roomId, user_id: userId });
  }
}

/** A row as it arrives from another process, with its epoch if it names one; null when it is not a row. */
export function parseTypingRow(v: JsonValue | undefined): { row: TypingRow; epoch: string | undefined } | null {
  if (!isJsonObject(v)) return null;
  const { id, room_id: roomId, user_ids: userIds, epoch } = v;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0 || typeof roomId !== 'string') return null;
  if (!Array.isArray(userIds) || !userIds.every((u) => typeof u === 'string')) return null;
  if (epoch !== undefined && typeof epoch !== 'string') return null;
  return { row: { id, room_id: roomId, user_ids: userIds as string[] }, epoch };
}

/** Asks the typing writer `instance` for its rows since `from`. */
export async function fetchTypingRows(client: ReplicationCaller, instance: string, from: number, epoch: string | null): Promise<TypingRowsAnswer> {
  const body: JsonObject = { from };
  if (epoch !== null) body.epoch = epoch;
  const answer = await client.call(instance, 'typing_rows', [], body);
  if (!isJsonObject(answer)) throw new Error('typing_rows: the answer is not an object');
  const { epoch: e, position, full, rows } = answer;
  if (typeof e !== 'string' || typeof position !== 'number' || !Number.isSafeInteger(position) || typeof full !== 'boolean' || !Array.isArray(rows)) {
    throw new Error('typing_rows: malformed answer');
  }
  const parsed: TypingRow[] = [];
  for (const r of rows) {
    const parsed1 = parseTypingRow(r);
    if (!parsed1) throw new Error('typing_rows: malformed row');
    parsed.push(parsed1.row);
  }
  return { epoch: e, position, full, rows: parsed };
}
