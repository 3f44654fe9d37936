/**
 * The callee side of HTTP replication: endpoints mounted on an express Router under
 * `/_synapse/replication/`. Each request
 *   1. must carry `Authorization: Bearer <worker_replication_secret>` (compared in constant time);
 *   2. is idempotent by transaction ID: a repeat of a finished call gets the stored response, a repeat
 *      of one still running waits for it (callers retry on timeouts and dropped connections);
 *   3. first waits until this process has applied the caller's stream positions, so the handler sees
 *      everything the caller wrote before calling.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { JsonValue, Logger } from '@hs/core';
import { MatrixError, silentLogger } from '@hs/core';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import {
  ENDPOINT_NAME,
  parsePositions,
  POSITIONS_HEADER,
  PositionsFormatError,
  REPLICATION_PREFIX,
  TXN_ID,
  type StreamPositions,
} from './http-replication.ts';

export interface ReplicationRequest {
  readonly name: string;
  readonly params: Readonly<Record<string, string>>;
  readonly body: JsonValue | undefined;
  readonly txnId: string;
  readonly positions: StreamPositions;
}

export interface ReplicationEndpoint {
  /** Path segment after `/_synapse/replication/`, e.g. `send_events`. */
  readonly name: string;
  readonly method?: 'GET' | 'POST' | 'PUT';
  /** Names of the path parameters between the name and the transaction ID. */
  readonly params?: readonly string[];
  /** Returns the JSON response body; throw MatrixError for an error response. */
  handler(request: ReplicationRequest): Promise<JsonValue> | JsonValue;
}

/** What the server needs from a StreamFollower. */
export interface PositionWaiter {
  isFollowing(stream: string): boolean;
  waitForPosition(stream: string, writer: string, position: number, timeoutMs: number): Promise<boolean>;
}

export interface ReplicationServerOptions {
  /** `worker_replication_secret`; null disables authentication (as in Synapse when it is unset). */
  secret: string | null;
  follower?: PositionWaiter;
  /** How long to wait for the caller's positions before running the handler anyway. Default 30 s. */
  waitTimeoutMs?: number;
  /** How long a finished transaction's response is kept. Default 30 min. */
  txnTtlMs?: number;
  bodyLimit?: string | number;
  logger?: Logger;
}

interface Outcome {
  readonly status: number;
  readonly body: JsonValue;
  /** Server errors are not kept, so a retry runs the handler again. */
  readonly keep: boolean;
}

interface TxnEntry {
  readonly outcome: Promise<Outcome>;
  expiresAt: number;
}

const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

function sendError(res: Response, status: number, errcode: string, error: string): void {
  res.status(status).json({ errcode, error });
}

export class ReplicationServer {
  readonly router: Router;
  private readonly endpoints: Router;
  private readonly secretHash: Buffer | null;
  private readonly follower: PositionWaiter | undefined;
  private readonly waitTimeoutMs: number;
  private readonly txnTtlMs: number;
  private readonly log: Logger;
  private readonly txns = new Map<string, TxnEntry>();
  private readonly names = new Set<string>();
  private lastSweep = 0;

  constructor(options: ReplicationServerOptions) {
    this.secretHash = options.secret === null ? null : sha256(options.secret);
    this.follower = options.follower;
    this.waitTimeoutMs = options.waitTimeoutMs ?? 30_000;
    this.txnTtlMs = options.txnTtlMs ?? 30 * 60_000;
    this.log = options.logger ?? silentLogger;
    if (options.secret === null) this.log.warn('replication: worker_replication_secret unset, replication HTTP is unauthenticated');

    this.endpoints = express.Router();
    const inner = express.Router();
    inner.use((req, res, next) => this.authenticate(req, res, next));
    inner.use(express.json({ limit: options.bodyLimit ?? '50mb', strict: false }));
    inner.use(this.endpoints);
    inner.use((_req: Request, res: Response) => sendError(res, 404, 'M_UNRECOGNIZED', 'Unrecognized request'));
    inner.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
      const type = (err as { type?: unknown }).type;
      if (type === 'entity.parse.failed') return sendError(res, 400, 'M_NOT_JSON', 'Content not JSON.');
      if (type === 'entity.too.large') return sendError(res, 413, 'M_TOO_LARGE', 'Request body too large.');
      this.log.error('replication: request failed', { error: String(err) });
      sendError(res, 500, 'M_UNKNOWN', 'Internal server error.');
    });
    this.router = express.Router();
    this.router.use(REPLICATION_PREFIX, inner);
  }

  register(endpoint: ReplicationEndpoint): void {
    const params = endpoint.params ?? [];
    if (!ENDPOINT_NAME.test(endpoint.name)) throw new Error(`invalid replication endpoint name ${endpoint.name}`);
    if (this.names.has(endpoint.name)) throw new Error(`replication endpoint ${endpoint.name} registered twice`);
    for (const p of params) {
      if (!PARAM_NAME.test(p) || p === 'txnId') throw new Error(`invalid parameter name ${p} for ${endpoint.name}`);
    }
    this.names.add(endpoint.name);
    const path = `/${endpoint.name}${params.map((p) => `/:${p}`).join('')}/:txnId`;
    const method = endpoint.method ?? 'POST';
    const route = this.endpoints.route(path);
    const handle = (req: Request, res: Response): Promise<void> => this.handle(endpoint, params, req, res);
    if (method === 'GET') route.get(handle);
    else if (method === 'PUT') route.put(handle);
    else route.post(handle);
  }

  /** Forgets stored transactions (tests; shutdown). */
  clear(): void {
    this.txns.clear();
  }

  private authenticate(req: Request, res: Response, next: NextFunction): void {
    if (this.secretHash === null) return next();
    const header = req.headers.authorization ?? '';
    const match = /^Bearer (.+)$/.exec(header);
    // Hashing first makes the comparison constant-time regardless of the presented length.
    if (match === null || !timingSafeEqual(sha256(match[1]!), this.secretHash)) {
      sendError(res, 401, 'M_UNAUTHORIZED', 'Missing or invalid replication secret');
      return;
    }
    next();
  }

  private async handle(endpoint: ReplicationEndpoint, paramNames: readonly string[], req: Request, res: Response): Promise<void> {
    const raw = req.params as Record<string, string>;
    const txnId = raw['txnId'] ?? '';
    if (!TXN_ID.test(txnId)) return sendError(res, 400, 'M_INVALID_PARAM', 'Invalid transaction ID');
    let positions: StreamPositions = {};
    const header = req.headers[POSITIONS_HEADER];
    if (typeof header === 'string') {
      try {
        positions = parsePositions(header);
      } catch (e) {
        if (e instanceof PositionsFormatError) return sendError(res, 400, 'M_INVALID_PARAM', e.message);
        throw e;
      }
    }
    const params: Record<string, string> = {};
    for (const p of paramNames) params[p] = raw[p] ?? '';
    const request: ReplicationRequest = { name: endpoint.name, params, body: req.body as JsonValue | undefined, txnId, positions };

    this.sweep();
    const key = `${endpoint.name}\u0000${txnId}`;
    let entry = this.txns.get(key);
    if (entry === undefined) {
      const created: TxnEntry = { outcome: this.run(endpoint, request), expiresAt: Infinity };
      this.txns.set(key, created);
      void created.outcome.then((o) => {
        if (o.keep) created.expiresAt = Date.now() + this.txnTtlMs;
        else if (this.txns.get(key) === created) this.txns.delete(key);
      });
      entry = created;
    }
    const outcome = await entry.outcome;
    res.status(outcome.status).json(outcome.body);
  }

  private async run(endpoint: ReplicationEndpoint, request: ReplicationRequest): Promise<Outcome> {
    try {
      await this.waitForPositions(request.positions);
      const body = await endpoint.handler(request);
      return { status: 200, body: body ?? {}, keep: true };
    } catch (e) {
      if (e instanceof MatrixError) return { status: e.httpStatus, body: e.toJSON() as JsonValue, keep: e.httpStatus < 500 };
      this.log.error('replication: handler failed', { endpoint: endpoint.name, error: String(e) });
      return { status: 500, body: { errcode: 'M_UNKNOWN', error: 'Internal server error.' }, keep: false };
    }
  }

  private async waitForPositions(positions: StreamPositions): Promise<void> {
    const follower = this.follower;
    if (follower === undefined) return;
    const waits: Promise<void>[] = [];
    for (const [stream, writers] of Object.entries(positions)) {
      if (!follower.isFollowing(stream)) continue;
      for (const [writer, position] of Object.entries(writers)) {
        waits.push(
          follower.waitForPosition(stream, writer, position, this.waitTimeoutMs).then((reached) => {
            if (!reached) this.log.warn('replication: timed out waiting for caller position', { stream, writer, position });
          }),
        );
      }
    }
    await Promise.all(waits);
  }

  /** Drops expired transactions, at most every few seconds (a full scan; in-flight ones never expire). */
  private sweep(): void {
    const now = Date.now();
    if (now - this.lastSweep < Math.min(5_000, this.txnTtlMs)) return;
    this.lastSweep = now;
    for (const [key, entry] of this.txns) if (entry.expiresAt <= now) this.txns.delete(key);
  }
}
