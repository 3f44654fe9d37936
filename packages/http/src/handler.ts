import type { Request, Response } from 'express';
import type { JsonValue } from '@hs/core';

/** What a handler sees: the request, its path parameters (decoded) and its parsed body. */
export interface RequestContext {
  readonly req: Request;
  readonly res: Response;
  readonly params: Readonly<Record<string, string>>;
  /** Parsed JSON for `body: 'json'` endpoints, the raw Buffer for `body: 'raw'`, else undefined. */
  readonly body: unknown;
  /** The endpoint name (for logs and metrics). */
  readonly endpoint: string;
  /** Set by authentication middleware: who made the request. */
  requester?: string;
}

/** A JSON answer; handlers that stream or send non-JSON write to `ctx.res` themselves and return undefined. */
export interface JsonResult {
  readonly status?: number;
  readonly body: JsonValue | Record<string, unknown>;
  readonly headers?: Readonly<Record<string, string>>;
}

export type Handler = (ctx: RequestContext) => Promise<JsonResult | undefined> | JsonResult | undefined;

/** Endpoint name → handler, provided by the domain packages a process wires in. */
export type HandlerTable = ReadonlyMap<string, Handler>;
