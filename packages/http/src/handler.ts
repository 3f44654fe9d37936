import type { Request, Response } from 'express';
import type { JsonValue } from '@hs/core';

/** Who made an authenticated request. */
export interface Requester {
  readonly userId: string;
  /** Absent for appservice requests without a device. */
  readonly deviceId?: string;
  /** The access token's row ID (logout, refresh and soft-logout act on it). */
  readonly tokenId?: number;
  readonly isGuest: boolean;
  /** Server admins may call the Admin API. */
  readonly isAdmin: boolean;
  /** Set when an application service made the request. */
  readonly appserviceId?: string;
}

/**
 * Resolves the access token of a request (Authorization header) into a Requester, or throws
 * M_MISSING_TOKEN / M_UNKNOWN_TOKEN. Provided by the accounts domain; the app calls it for every
 * endpoint whose `auth` is `user` or `admin`.
 */
export type Authenticator = (req: Request) => Promise<Requester>;

/** What a handler sees: the request, its path parameters (decoded) and its parsed body. */
export interface RequestContext {
  readonly req: Request;
  readonly res: Response;
  readonly params: Readonly<Record<string, string>>;
  /** Parsed JSON for `body: 'json'` endpoints, the raw Buffer for `body: 'raw'`, else undefined. */
  readonly body: unknown;
  /** The endpoint name (for logs and metrics). */
  readonly endpoint: string;
  /** Who made the request, for endpoints with `auth: 'user' | 'admin'`. */
  requester?: Requester;
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
