/**
 * The endpoint manifest (DESIGN.md §5): every HTTP endpoint declared once, as data. The same table
 * decides which routes a process mounts, generates reverse-proxy configuration, and documents workers.
 * Handlers are bound separately (see `HandlerTable`), so the manifest can be read without any services.
 */

/** The `resources[].names` of a listener, as in Synapse's config. */
export type Resource =
  | 'client'
  | 'federation'
  | 'keys'
  | 'media'
  | 'metrics'
  | 'health'
  | 'replication'
  | 'openid'
  | 'static'
  | 'consent'
  | 'admin';
export type WorkerKind = 'main' | 'generic_worker' | 'federation_sender' | 'pusher' | 'media_repository';
/** How a reverse proxy should spread requests for an endpoint across a worker group. */
export type Balance = 'any' | 'access_token' | 'room' | 'source_ip';
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'HEAD';
export type AuthKind = 'none' | 'user' | 'admin' | 'server' | 'replication';

export interface EndpointDecl {
  /** Unique name; also the `servlet` label in metrics and the key for binding a handler. */
  readonly name: string;
  readonly method: HttpMethod;
  /** Path template: literal segments and `{param}` segments, e.g. `/_matrix/client/{version}/rooms/{roomId}/state`. */
  readonly path: string;
  /** Alternatives a parameter is restricted to (a regex alternation such as `v3|r0`); others match one segment. */
  readonly params?: Readonly<Record<string, string>>;
  readonly resource: Resource;
  /** Process kinds that may serve this endpoint. */
  readonly workers: readonly WorkerKind[];
  /** The stream this endpoint writes; the proxy sends it to that stream's writer. */
  readonly writer?: string;
  readonly balance?: Balance;
  readonly auth: AuthKind;
  /** Whether the request body is parsed as JSON (default for POST/PUT). */
  readonly body?: 'json' | 'raw' | 'none';
  /** Whether the endpoint sends CORS headers (client-facing endpoints do). */
  readonly cors?: boolean;
  /** JSON Schema for the body, by name under `schemas/` (e.g. `client/register`); checked before the handler. */
  readonly bodySchema?: string;
}

export interface CompiledEndpoint {
  readonly decl: EndpointDecl;
  readonly regex: RegExp;
  readonly paramNames: readonly string[];
}

const PARAM = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Compile a template into an anchored regex with one capture group per parameter. */
export function compilePath(decl: Pick<EndpointDecl, 'path' | 'params'>): { regex: RegExp; paramNames: string[] } {
  if (!decl.path.startsWith('/')) throw new Error(`endpoint path must start with /: ${decl.path}`);
  const paramNames: string[] = [];
  const parts = decl.path
    .split('/')
    .slice(1)
    .map((seg) => {
      const m = PARAM.exec(seg);
      if (!m) {
        if (seg.includes('{') || seg.includes('}')) throw new Error(`bad path segment ${seg} in ${decl.path}`);
        return escapeRegex(seg);
      }
      const name = m[1] as string;
      paramNames.push(name);
      const alt = decl.params?.[name];
      return alt ? `(${alt})` : '([^/]+)';
    });
  return { regex: new RegExp(`^/${parts.join('/')}$`), paramNames };
}

/**
 * How many `/`-separated segments a path matching the template can have: one per segment, except
 * that a parameter restricted to alternatives containing `/` (such as `v3|api/v1`) spans several.
 */
export function pathSegmentCounts(decl: Pick<EndpointDecl, 'path' | 'params'>): number[] {
  let counts = [0];
  for (const seg of decl.path.split('/').slice(1)) {
    const m = PARAM.exec(seg);
    const alt = m ? decl.params?.[m[1] as string] : undefined;
    const widths = alt ? [...new Set(alt.split('|').map((a) => a.split('/').length))] : [1];
    counts = [...new Set(counts.flatMap((c) => widths.map((w) => c + w)))];
  }
  return counts;
}

/**
 * The proxy-facing form of a path: a regex prefix that matches the endpoint (parameters as `[^/]*`).
 * Synapse's docs route by regex like this; we emit it for nginx/haproxy.
 */
export function proxyRegex(decl: Pick<EndpointDecl, 'path' | 'params'>): string {
  const segs = decl.path
    .split('/')
    .slice(1)
    .map((seg) => {
      const m = PARAM.exec(seg);
      if (!m) return escapeRegex(seg);
      const alt = decl.params?.[m[1] as string];
      return alt ? `(${alt})` : '[^/]+';
    });
  return `^/${segs.join('/')}$`;
}

export class Manifest {
  readonly endpoints: readonly CompiledEndpoint[];
  private readonly byName = new Map<string, CompiledEndpoint>();

  constructor(decls: Iterable<EndpointDecl>) {
    const list: CompiledEndpoint[] = [];
    for (const decl of decls) {
      if (this.byName.has(decl.name)) throw new Error(`duplicate endpoint name ${decl.name}`);
      if (decl.workers.length === 0) throw new Error(`endpoint ${decl.name} is served by no process kind`);
      const compiled = { decl, ...compilePath(decl) };
      this.byName.set(decl.name, compiled);
      list.push(compiled);
    }
    this.endpoints = list;
  }

  get(name: string): CompiledEndpoint | undefined {
    return this.byName.get(name);
  }

  /** The endpoints a process of this kind with these listener resources serves. */
  servedBy(kind: WorkerKind, resources: ReadonlySet<Resource>): CompiledEndpoint[] {
    return this.endpoints.filter((e) => e.decl.workers.includes(kind) && resources.has(e.decl.resource));
  }
}
