import type { JsonObject, JsonValue } from '@hs/core';
import type { ReplicationEndpoint } from './http-replication-server.ts';
import { answeredPosition, bodyFields, type Fields } from './replication-body.ts';

/** What writers register their endpoints on (ReplicationServer satisfies it). */
export interface ReplicationEndpointRegistry { register(endpoint: ReplicationEndpoint): void }

/** What a replicated writer calls through (ReplicationClient satisfies it). */
export interface ReplicationCaller {
  call<T extends JsonValue = JsonValue>(instance: string, name: string, params: readonly string[], body?: JsonValue): Promise<T>;
}

export interface ReplicatedWriterOptions {
  readonly client: ReplicationCaller;
  /** The writer instance for this stream (for `events`, the lead shards by room; others have one writer). */
  readonly instance: string;
  /**
   * Resolves once this process has applied `position` of (stream, instance) — so a client that wrote
   * through this worker reads its own write here next. The lead wires it to the StreamFollower.
   */
  waitFor(stream: string, instance: string, position: number): Promise<void>;
}

/**
 * On a stream's writer: endpoint `name` reads the body's fields and runs the local write, answering
 * its position as `{ position }` (null, or undefined, when nothing was written).
 */
export function registerWriteEndpoint(
  server: ReplicationEndpointRegistry,
  name: string,
  write: (fields: Fields) => Promise<number | null | undefined> | number | null | undefined,
): void {
  server.register({
    name,
    async handler({ body }) {
      return { position: (await write(bodyFields(body))) ?? null };
    },
  });
}

/**
 * On another process: forwards a write to `stream`'s writer (endpoint `name`, arguments by name in
 * `body`) and, when it wrote something, waits until this process has applied that position. Null:
 * nothing was written, so there is nothing to wait for.
 */
export async function forwardWrite(opts: ReplicatedWriterOptions, stream: string, name: string, body: JsonObject): Promise<number | null> {
  const position = answeredPosition(await opts.client.call(opts.instance, name, [], body));
  if (position !== null) await opts.waitFor(stream, opts.instance, position);
  return position;
}

/** `forwardWrite` for writes that always take a stream ID: the writer answering none is a bug there. */
export async function forwardPositionedWrite(opts: ReplicatedWriterOptions, stream: string, name: string, body: JsonObject): Promise<number> {
  const position = await forwardWrite(opts, stream, name, body);
  if (position === null) throw new Error(`${name}: the ${stream} writer reported no position`);
  return position;
}
