/**
 * What both ends of HTTP replication agree on: the path shape
 * `/_synapse/replication/<name>/<params…>/<txn_id>`, the header that carries the caller's stream
 * positions, and their encoding.
 */
import { randomBytes } from 'node:crypto';

export const REPLICATION_PREFIX = '/_synapse/replication';

/** The caller's positions, `{"<stream>": {"<writer>": <position>}}` as JSON; the callee waits for them. */
export const POSITIONS_HEADER = 'x-hs-stream-positions';

/** stream → writer → position. */
export type StreamPositions = Readonly<Record<string, Readonly<Record<string, number>>>>;

export const ENDPOINT_NAME = /^[a-z0-9_]+$/;
export const TXN_ID = /^[A-Za-z0-9._~-]{1,128}$/;

export class PositionsFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PositionsFormatError';
  }
}

export function encodePositions(positions: StreamPositions): string {
  return JSON.stringify(positions);
}

/** Parses and validates the positions header. Throws PositionsFormatError. */
export function parsePositions(text: string): StreamPositions {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new PositionsFormatError('stream positions are not JSON');
  }
  if (!isPlainObject(value)) throw new PositionsFormatError('stream positions must be an object');
  const out: Record<string, Record<string, number>> = {};
  for (const [stream, writers] of Object.entries(value)) {
    if (!isPlainObject(writers)) throw new PositionsFormatError(`positions of ${stream} must be an object`);
    const inner: Record<string, number> = {};
    for (const [writer, pos] of Object.entries(writers)) {
      if (typeof pos !== 'number' || !Number.isSafeInteger(pos) || pos < 0) {
        throw new PositionsFormatError(`position of ${stream}/${writer} must be a non-negative integer`);
      }
      inner[writer] = pos;
    }
    out[stream] = inner;
  }
  return out;
}

export function replicationPath(name: string, params: readonly string[], txnId: string): string {
  if (!ENDPOINT_NAME.test(name)) throw new Error(`invalid replication endpoint name ${name}`);
  if (!TXN_ID.test(txnId)) throw new Error(`invalid replication transaction ID ${txnId}`);
  const parts = [...params, txnId].map((p) => encodeURIComponent(p));
  return `${REPLICATION_PREFIX}/${name}/${parts.join('/')}`;
}

/** A fresh transaction ID: one per logical call, reused by its retries. */
export function newTxnId(): string {
  return randomBytes(12).toString('base64url');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
