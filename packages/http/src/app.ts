/**
 * One express app per listener. It serves exactly the manifest endpoints this process should serve on
 * the listener's resources, and guarantees the Matrix error envelope for everything else: unknown path
 * → 404 M_UNRECOGNIZED, known path with the wrong method → 405, malformed JSON → 400 M_NOT_JSON, body
 * over the limit → 413 M_TOO_LARGE, and any unexpected failure → 500 M_UNKNOWN without internals.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { MatrixError, errors, type Logger } from '@hs/core';
import type { CompiledEndpoint, Manifest, Resource, WorkerKind } from './manifest.ts';
import { pathSegmentCounts } from './manifest.ts';
import type { Authenticator, HandlerTable, RequestContext, Requester } from './handler.ts';
import { BodySchemas } from './body-schemas.ts';
import type { HttpMetrics } from './metrics.ts';

/** Number of `/`-separated segments of a request path (its slashes). */
function segmentCount(path: string): number {
  let n = 0;
  for (let i = 0; i < path.length; i++) if (path.charCodeAt(i) === 47) n++;
  return n;
}

export interface ListenerAppOptions {
  readonly manifest: Manifest;
  readonly handlers: HandlerTable;
  readonly kind: WorkerKind;
  readonly resources: ReadonlySet<Resource>;
  readonly instance: string;
  readonly log: Logger;
  readonly metrics: HttpMetrics;
  /** Honour X-Forwarded-For / -Proto from a reverse proxy (Synapse's `x_forwarded`). */
  readonly xForwarded?: boolean;
  /** Largest accepted request body for JSON endpoints, in bytes. */
  readonly maxJsonBytes?: number;
  /** Largest accepted raw body (uploads), in bytes. */
  readonly maxRawBytes?: number;
  /** Routers mounted ahead of the manifest dispatcher (HTTP replication on `replication` listeners). */
  readonly routers?: readonly express.RequestHandler[];
  /** Resolves access tokens; required when a served endpoint has `auth: 'user' | 'admin'`. */
  readonly authenticate?: Authenticator;
  /** Where body schemas come from (default: the repository's `schemas/`). */
  readonly bodySchemas?: BodySchemas;
  /**
   * Serve only these endpoint names of what the manifest assigns to this process (the rest answer 404).
   * For processes that run a subset of the domains; by default every assigned endpoint must have a handler.
   */
  readonly servedEndpoints?: ReadonlySet<string>;
}

const CORS_HEADERS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, HEAD, POST, PUT, DELETE, OPTIONS',
  'Access-Control-Allow-Headers': 'X-Requested-With, Content-Type, Authorization, Date',
  'Access-Control-Expose-Headers': 'Synapse-Trace-Id, Server',
};

/** Client-facing prefixes answer CORS preflights even for paths this process does not serve. */
const CORS_PREFIXES = ['/_matrix/', '/.well-known/matrix/', '/_synapse/admin/', '/_synapse/client/'];

export function sendError(res: Response, err: MatrixError): void {
  if (res.headersSent) return;
  sendJson(res, err.httpStatus, err.toJSON());
}

/**
 * A JSON response written directly: express's `res.json` also runs freshness checks and charset
 * handling meant for pages, a measurable share of a busy server's CPU at one response per /sync.
 */
export function sendJson(res: Response, status: number, body: unknown): void {
  const payload = Buffer.from(JSON.stringify(body) ?? 'null', 'utf8');
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', payload.length);
  res.end(res.req.method === 'HEAD' ? undefined : payload);
}

/** Remove secrets from a URL before it is logged. */
export function redactUrl(url: string): string {
  return url.replace(/([?&](?:access_token|token|password|sig)=)[^&]*/gi, '$1<redacted>');
}

function decodeParams(ep: CompiledEndpoint, match: RegExpExecArray): Record<string, string> {
  const out: Record<string, string> = {};
  ep.paramNames.forEach((name, i) => {
    const raw = match[i + 1] ?? '';
    try {
      out[name] = decodeURIComponent(raw);
    } catch {
      throw errors.invalidParam(`Invalid URL encoding in parameter ${name}`);
    }
  });
  return out;
}

function parseJsonBody(buf: unknown): unknown {
  if (!Buffer.isBuffer(buf) || buf.length === 0) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(buf.toString('utf8'));
  } catch {
    throw errors.notJson('Content not JSON.');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw errors.badJson('Content must be a JSON object.');
  }
  return value;
}

export function createListenerApp(opts: ListenerAppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('trust proxy', opts.xForwarded ? true : false);
  app.set('query parser', 'simple');

  const assigned = opts.manifest.servedBy(opts.kind, opts.resources);
  const served = opts.servedEndpoints ? assigned.filter((e) => opts.servedEndpoints?.has(e.decl.name)) : assigned;
  const schemas = opts.bodySchemas ?? new BodySchemas();
  for (const ep of served) {
    if (!opts.handlers.has(ep.decl.name)) throw new Error(`no handler bound for endpoint ${ep.decl.name}`);
    if ((ep.decl.auth === 'user' || ep.decl.auth === 'admin') && !opts.authenticate) {
      throw new Error(`endpoint ${ep.decl.name} needs authentication, but no authenticator is configured`);
    }
    // Compile every schema now: a missing or broken schema stops start-up, not a request.
    if (ep.decl.bodySchema) schemas.get(ep.decl.bodySchema);
  }
  // Only endpoints whose paths can have as many segments as the request's can match it: a request is
  // tested against that bucket (in declaration order, so the first match still wins), not every endpoint.
  const bySegments = new Map<number, CompiledEndpoint[]>();
  for (const ep of served) {
    for (const n of pathSegmentCounts(ep.decl)) {
      const bucket = bySegments.get(n);
      if (bucket) bucket.push(ep);
      else bySegments.set(n, [ep]);
    }
  }
  const jsonParser = express.raw({ type: () => true, limit: opts.maxJsonBytes ?? 1024 * 1024 });
  const rawParser = express.raw({ type: () => true, limit: opts.maxRawBytes ?? 50 * 1024 * 1024 });

  // Request log line and metrics, for every request including errors.
  app.use((req: Request, res: Response, next: NextFunction) => {
    const started = process.hrtime.bigint();
    res.locals.servlet = 'unknown';
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const servlet = String(res.locals.servlet);
      const code = String(res.statusCode);
      opts.metrics.responses.inc({ method: req.method, servlet, code });
      opts.metrics.responseTime.observe({ method: req.method, servlet, code }, seconds);
      opts.log.info(`${req.ip ?? '-'} ${req.method} ${redactUrl(req.originalUrl)} ${code} ${(seconds * 1000).toFixed(1)}ms`, {
        user: (res.locals.requester as string | undefined) ?? '-',
      });
    });
    next();
  });

  app.use((req: Request, res: Response, next: NextFunction) => {
    const isCors = CORS_PREFIXES.some((p) => req.path.startsWith(p));
    if (isCors) res.set(CORS_HEADERS);
    if (req.method === 'OPTIONS') {
      res.status(isCors ? 200 : 404);
      if (isCors) sendJson(res, 200, {});
      else sendError(res, errors.unrecognized());
      return;
    }
    next();
  });

  for (const router of opts.routers ?? []) app.use(router);

  app.use((req: Request, res: Response, next: NextFunction) => {
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    const path = req.path;
    let pathKnown = false;
    for (const ep of bySegments.get(segmentCount(path)) ?? []) {
      const m = ep.regex.exec(path);
      if (!m) continue;
      pathKnown = true;
      if (ep.decl.method !== method) continue;
      res.locals.servlet = ep.decl.name;
      opts.metrics.requests.inc({ method: req.method, servlet: ep.decl.name });
      void dispatch(ep, m, req, res).catch(next);
      return;
    }
    sendError(res, pathKnown ? errors.methodNotAllowed() : errors.unrecognized());
  });

  async function dispatch(ep: CompiledEndpoint, match: RegExpExecArray, req: Request, res: Response): Promise<void> {
    const params = decodeParams(ep, match);
    // Authenticate before reading the body: an anonymous client must not make us buffer an upload.
    let requester: Requester | undefined;
    if (ep.decl.auth === 'user' || ep.decl.auth === 'admin') {
      requester = await (opts.authenticate as Authenticator)(req);
      res.locals.requester = requester.userId;
      if (ep.decl.auth === 'admin' && !requester.isAdmin) throw errors.forbidden('You are not a server admin');
    }
    const bodyMode = ep.decl.body ?? (ep.decl.method === 'POST' || ep.decl.method === 'PUT' ? 'json' : 'none');
    if (bodyMode !== 'none') {
      await new Promise<void>((resolve, reject) =>
        (bodyMode === 'raw' ? rawParser : jsonParser)(req, res, (err?: unknown) => (err ? reject(err) : resolve())),
      );
    }
    const ctx: RequestContext = {
      req,
      res,
      params,
      body: bodyMode === 'json' ? parseJsonBody(req.body) : bodyMode === 'raw' ? req.body : undefined,
      endpoint: ep.decl.name,
      ...(requester ? { requester } : {}),
    };
    if (ep.decl.bodySchema) schemas.check(ep.decl.bodySchema, ctx.body);
    const handler = opts.handlers.get(ep.decl.name);
    if (!handler) throw errors.unrecognized();
    const result = await handler(ctx);
    if (result && !res.headersSent) {
      if (result.headers) res.set(result.headers);
      sendJson(res, result.status ?? 200, result.body);
    }
  }

  // Errors from parsers, handlers and express itself all leave as Matrix JSON.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof MatrixError) return sendError(res, err);
    const e = err as { type?: string; status?: number; statusCode?: number; message?: string };
    if (e?.type === 'entity.too.large') return sendError(res, errors.tooLarge());
    if (e?.type === 'request.aborted') return;
    // Postgres cannot store U+0000 (or other characters the database encoding lacks). Whatever column
    // the input was headed for, the transaction rolled back: it is the client's input that is wrong.
    const pgCode = (err as { code?: unknown }).code;
    if (pgCode === '22P05' || pgCode === '22021') {
      return sendError(res, errors.badJson('The request contains characters that cannot be stored (such as U+0000).'));
    }
    const status = e?.status ?? e?.statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return sendError(res, new MatrixError(status, status === 404 ? 'M_UNRECOGNIZED' : 'M_UNKNOWN', e.message ?? 'Bad request'));
    }
    opts.log.error(`unhandled error in ${String(res.locals.servlet)}`, { error: err instanceof Error ? err.stack : String(err), path: redactUrl(req.originalUrl) });
    sendError(res, errors.unknown());
  });
  return app;
}
