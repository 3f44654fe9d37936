/**
 * Reverse-proxy configuration from the endpoint manifest (DESIGN.md §5): for a topology (which workers
 * exist, where they listen, who writes which stream), decide where each endpoint goes and print it for
 * nginx, haproxy or as JSON. Endpoints go to the stream writer they belong with, else to a worker pool
 * balanced as the endpoint asks (sync by access token, room writes by room, inbound federation by source
 * IP), else to main.
 */
import { proxyRegex, type Balance, type EndpointDecl, type HttpMethod, type Manifest, type WorkerKind } from './manifest.ts';

export interface ProxyWorker {
  readonly name: string;
  readonly kind: WorkerKind;
  /** `host:port` of its client/federation HTTP listener. */
  readonly address: string;
}

export interface ProxyTopology {
  /** `host:port` of main's client/federation listener. */
  readonly main: string;
  readonly workers: readonly ProxyWorker[];
  /** Stream → writer instances (from `stream_writers`). */
  readonly streamWriters: Readonly<Record<string, readonly string[]>>;
}

export interface ProxyUpstream {
  readonly name: string;
  /** Addresses, in the same order as `instances`. */
  readonly servers: readonly string[];
  /** The instance (worker) name behind each address. */
  readonly instances: readonly string[];
  readonly balance: Balance;
}

/** Where the room ID sits in a request path, for balancing by room. */
export interface RoomLocation {
  /** 1-based index of the path segment holding the room ID (`/a/b`: a is 1). */
  readonly segment: number;
  /** The route's regex with the room ID segment captured in the named group `room`. */
  readonly regex: string;
}

export interface ProxyRoute {
  readonly endpoint: string;
  readonly method: HttpMethod;
  readonly regex: string;
  readonly upstream: string;
  readonly room?: RoomLocation;
}

export interface ProxyPlan {
  readonly upstreams: readonly ProxyUpstream[];
  readonly routes: readonly ProxyRoute[];
}

/**
 * Streams whose client endpoints Synapse's docs route straight to the writer. Events are not: any
 * generic worker creates events and hands them to the persisters over replication.
 */
export const WRITER_ROUTED_STREAMS: ReadonlySet<string> = new Set(['typing', 'to_device', 'account_data', 'receipts', 'presence', 'push_rules']);

/** Worker pools that take proxied traffic, in order of preference. */
const POOL_KINDS = ['media_repository', 'generic_worker'] as const satisfies readonly WorkerKind[];

/** Where an endpoint goes, independent of a topology: what the manifest says, as a proxy reads it. */
export interface RouteTarget {
  /** The stream whose writer takes the endpoint when that writer is a worker with a public listener. */
  readonly writer?: string;
  /** Worker kinds whose pool may take it, in order of preference; empty means main only. */
  readonly pools: readonly WorkerKind[];
  /** How a pool spreads it; `room` only when the room ID's place in the path is known. */
  readonly balance: Balance;
  readonly room?: RoomLocation;
}

/** Finds the `{roomId}` segment; unknown when an alternation before it may span several segments. */
export function roomLocation(decl: Pick<EndpointDecl, 'path' | 'params'>): RoomLocation | undefined {
  const segs = decl.path.split('/').slice(1);
  const index = segs.indexOf('{roomId}');
  if (index < 0) return undefined;
  for (const seg of segs.slice(0, index)) {
    const name = /^\{(.+)\}$/.exec(seg)?.[1];
    if (name && decl.params?.[name]?.includes('/')) return undefined;
  }
  const params = decl.params ? { params: decl.params } : {};
  const segRegex = (seg: string) => proxyRegex({ path: `/${seg}`, ...params }).slice(2, -1);
  const regex = `^/${segs.map((s, i) => (i === index ? '(?<room>[^/]+)' : segRegex(s))).join('/')}$`;
  return { segment: index + 1, regex };
}

/** Undefined for per-process endpoints: metrics and health are scraped or probed per process, replication is internal. */
export function routeTarget(decl: EndpointDecl): RouteTarget | undefined {
  if (decl.resource === 'metrics' || decl.resource === 'health' || decl.resource === 'replication') return undefined;
  const room = decl.balance === 'room' ? roomLocation(decl) : undefined;
  const balance = decl.balance === 'room' && !room ? 'any' : (decl.balance ?? 'any');
  const pools = POOL_KINDS.filter((k) => decl.workers.includes(k));
  // Stream writers are generic workers: only endpoints a generic worker may serve can go to one.
  const toWriter = decl.writer !== undefined && WRITER_ROUTED_STREAMS.has(decl.writer) && pools.includes('generic_worker');
  return {
    ...(toWriter ? { writer: decl.writer } : {}),
    pools,
    balance,
    ...(room ? { room } : {}),
  };
}

function poolName(kind: string, balance: Balance): string {
  return balance === 'any' ? kind : `${kind}_by_${balance}`;
}

/** Upstream/backend names must be plain identifiers in both nginx and haproxy. */
function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]/g, '_');
}

export function planProxy(manifest: Manifest, topology: ProxyTopology): ProxyPlan {
  const upstreams = new Map<string, ProxyUpstream>();
  const use = (name: string, members: readonly { name: string; address: string }[], balance: Balance): string => {
    const safe = safeName(name);
    if (!upstreams.has(safe)) upstreams.set(safe, { name: safe, servers: members.map((m) => m.address), instances: members.map((m) => safeName(m.name)), balance });
    return safe;
  };
  use('main', [{ name: 'main', address: topology.main }], 'any');
  const routes: ProxyRoute[] = [];

  for (const { decl } of manifest.endpoints) {
    const target = routeTarget(decl);
    if (!target) continue;
    const writers = target.writer ? topology.streamWriters[target.writer] : undefined;
    // Single-writer streams only; a writer without a public listener is reached through the pool instead.
    const writer = writers?.length === 1 ? topology.workers.find((w) => w.name === writers[0]) : undefined;
    let upstream = 'main';
    if (writers?.[0] === 'main') {
      upstream = 'main';
    } else if (writer) {
      upstream = use(`writer_${writer.name}`, [writer], 'any');
    } else {
      for (const kind of target.pools) {
        const pool = topology.workers.filter((w) => w.kind === kind);
        if (pool.length > 0) {
          upstream = use(poolName(kind, target.balance), pool, target.balance);
          break;
        }
      }
    }
    const roomBalanced = upstreams.get(upstream)?.balance === 'room';
    routes.push({ endpoint: decl.name, method: decl.method, regex: proxyRegex(decl), upstream, ...(roomBalanced && target.room ? { room: target.room } : {}) });
  }
  return { upstreams: [...upstreams.values()], routes };
}

/**
 * One path regex and where each method on it goes: the shape both nginx (a `location` per regex) and
 * haproxy (an ACL per regex) are written in. Methods not listed go to `upstream` (the first non-main
 * destination), so only the exceptions are spelled out. Paths that go only to main are left to the
 * default route.
 */
export interface ProxyLocation {
  readonly regex: string;
  readonly upstream: string;
  readonly byMethod: readonly { readonly method: HttpMethod; readonly upstream: string }[];
  readonly routes: readonly ProxyRoute[];
  /** Set when some method here is balanced by room. */
  readonly room?: RoomLocation;
}

export function proxyLocations(plan: ProxyPlan): ProxyLocation[] {
  const byRegex = new Map<string, ProxyRoute[]>();
  for (const r of plan.routes) byRegex.set(r.regex, [...(byRegex.get(r.regex) ?? []), r]);
  const out: ProxyLocation[] = [];
  for (const [regex, routes] of byRegex) {
    const upstream = routes.find((r) => r.upstream !== 'main')?.upstream;
    if (!upstream) continue;
    const room = routes.find((r) => r.room)?.room;
    out.push({
      regex,
      upstream,
      byMethod: routes.filter((r) => r.upstream !== upstream).map((r) => ({ method: r.method, upstream: r.upstream })),
      routes,
      ...(room ? { room } : {}),
    });
  }
  return out;
}

const NGINX_HASH: Record<Balance, string> = {
  any: 'least_conn;',
  access_token: 'hash $http_authorization consistent;',
  room: 'hash $hs_room consistent;',
  source_ip: 'hash $remote_addr consistent;',
};

export interface ProxyRenderOptions {
  /** Listen address: `port` or `host:port`. Default 8080. */
  readonly listen?: string;
  readonly serverName?: string;
  readonly maxBodySize?: string;
}

const DEFAULT_LISTEN = '8080';

/**
 * A config fragment for nginx's `http {}` context: upstreams plus one server block. Paths that map to
 * different upstreams by method pick the upstream in a variable (`set` inside `if` is safe in nginx).
 * Room-balanced locations capture the room ID as `$hs_room` (from the decoded URI, so `!a:b` and
 * `%21a%3Ab` hash alike).
 */
export function renderNginx(plan: ProxyPlan, opts: ProxyRenderOptions = {}): string {
  const out: string[] = ['# Generated by `homeserver routes --format nginx`; regenerate when the topology changes.', ''];
  for (const u of plan.upstreams) {
    out.push(`upstream ${u.name} {`);
    if (u.servers.length > 1) out.push(`    ${NGINX_HASH[u.balance]}`);
    u.servers.forEach((s, i) => out.push(`    server ${s}; # ${u.instances[i] ?? ''}`));
    out.push('    keepalive 32;', '}', '');
  }
  out.push('server {', `    listen ${opts.listen ?? DEFAULT_LISTEN};`);
  if (opts.serverName) out.push(`    server_name ${opts.serverName};`);
  out.push(
    `    client_max_body_size ${opts.maxBodySize ?? '50M'};`,
    '    proxy_http_version 1.1;',
    '    proxy_set_header Connection "";',
    '    proxy_set_header Host $host;',
    '    proxy_set_header X-Forwarded-For $remote_addr;',
    '    proxy_set_header X-Forwarded-Proto $scheme;',
    '    proxy_read_timeout 600s;',
    '    # Fail over only when the worker itself is unreachable (refused, reset, silent). A 502/503 a worker',
    '    # answers is about something behind it (an event persister, the database) that every worker shares:',
    '    # retrying elsewhere only multiplies the wait, and counting it as a failure takes healthy workers',
    '    # out of the pool, so other rooms get "no live upstreams".',
    '    proxy_next_upstream error timeout;',
    '    # Errors nginx makes itself (no worker reachable) reach clients as Matrix errors, not HTML.',
    '    error_page 502 @hs_bad_gateway;',
    '    error_page 504 @hs_gateway_timeout;',
    '    location @hs_bad_gateway {',
    '        default_type application/json;',
    `        return 502 '{"errcode":"M_UNKNOWN","error":"The homeserver is unreachable, try again"}';`,
    '    }',
    '    location @hs_gateway_timeout {',
    '        default_type application/json;',
    `        return 504 '{"errcode":"M_UNKNOWN","error":"The homeserver did not answer in time, try again"}';`,
    '    }',
    '',
    '    # Replication is internal: never through the public proxy.',
    '    location ^~ /_synapse/replication/ { return 404; }',
    '',
  );
  const roomBalanced = new Set(plan.upstreams.filter((u) => u.balance === 'room').map((u) => u.name));
  for (const loc of proxyLocations(plan)) {
    const capture = loc.room && loc.routes.some((r) => roomBalanced.has(r.upstream)) ? loc.room.regex.replace('(?<room>', '(?<hs_room>') : loc.regex;
    out.push(`    # ${loc.routes.map((r) => `${r.method} ${r.endpoint}`).join(', ')}`);
    out.push(`    location ~ ${capture} {`);
    if (loc.byMethod.length === 0) {
      out.push(`        proxy_pass http://${loc.upstream};`);
    } else {
      out.push(`        set $hs_upstream ${loc.upstream};`);
      for (const m of loc.byMethod) out.push(`        if ($request_method = ${m.method}) { set $hs_upstream ${m.upstream}; }`);
      out.push('        proxy_pass http://$hs_upstream;');
    }
    out.push('    }');
  }
  out.push('', '    location / {', '        proxy_pass http://main;', '    }', '}', '');
  return out.join('\n');
}

/** haproxy `bind` wants `:port` for all addresses where nginx takes a bare port. */
function haproxyBind(listen: string): string {
  return /^\d+$/.test(listen) ? `:${listen}` : listen;
}

/** The request header the room-balanced backends hash; set by the proxy, never trusted from clients. */
const ROOM_HEADER = 'X-Hs-Balance-Room';

const HAPROXY_BALANCE: Record<Balance, readonly string[]> = {
  any: ['balance leastconn'],
  access_token: ['balance hdr(Authorization)', 'hash-type consistent'],
  // haproxy 2.x can hash a header but not a regex capture, so the frontend stores the room ID (the
  // path segment after /rooms/, URL-decoded) in txn.hs_room and the backend copies it into a header
  // to hash. `balance hash <expr>` would avoid the header but needs haproxy 2.6.
  room: [`http-request set-header ${ROOM_HEADER} %[var(txn.hs_room)]`, `balance hdr(${ROOM_HEADER})`, 'hash-type consistent'],
  source_ip: ['balance source', 'hash-type consistent'],
};

/**
 * A complete haproxy (2.0+) configuration: defaults, one frontend whose ACLs are the route regexes
 * (`path_reg`, first match wins as in nginx), and a backend per upstream. Check it with `haproxy -c -f`.
 */
export function renderHaproxy(plan: ProxyPlan, opts: ProxyRenderOptions = {}): string {
  const out: string[] = [
    '# Generated by `homeserver routes --format haproxy`; regenerate when the topology changes.',
    '# Check with `haproxy -c -f FILE`. Needs haproxy 2.0 or later.',
    '',
    'defaults',
    '    mode http',
    '    # X-Forwarded-For carries the client address to the homeserver (x_forwarded: true on its listeners).',
    '    option forwardfor',
    '    option redispatch',
    '    retries 3',
    '    timeout connect 5s',
    '    timeout http-request 30s',
    '    timeout http-keep-alive 60s',
    '    # /sync and other long-polls hold requests open for minutes.',
    '    timeout client 600s',
    '    timeout server 600s',
    '',
    'frontend matrix',
    `    bind ${haproxyBind(opts.listen ?? DEFAULT_LISTEN)}`,
  ];
  if (opts.maxBodySize) out.push(`    # client_max_body_size ${opts.maxBodySize} has no haproxy equivalent; the homeserver enforces max_upload_size.`);
  out.push(
    '    # The homeserver trusts the left-most X-Forwarded-For: drop whatever the client sent before option forwardfor adds ours.',
    '    http-request del-header X-Forwarded-For',
    '    http-request set-header X-Forwarded-Proto https if { ssl_fc }',
    '    http-request set-header X-Forwarded-Proto http if !{ ssl_fc }',
    '    # Replication is internal: never through the public proxy.',
    '    http-request deny deny_status 404 if { path_beg /_synapse/replication/ }',
    '',
  );
  const locations = proxyLocations(plan);
  const roomBalanced = new Set(plan.upstreams.filter((u) => u.balance === 'room').map((u) => u.name));
  locations.forEach((loc, i) => {
    out.push(`    # ${loc.routes.map((r) => `${r.method} ${r.endpoint}`).join(', ')}`);
    // Single quotes: no escape or variable processing, so the regex reaches the matcher as written.
    out.push(`    acl r${i} path_reg '${loc.regex}'`);
  });
  out.push('');
  locations.forEach((loc, i) => {
    if (loc.room && loc.routes.some((r) => roomBalanced.has(r.upstream))) {
      // field() counts from the empty field before the leading slash.
      out.push(`    http-request set-var(txn.hs_room) path,field(${loc.room.segment + 1},/),url_dec if r${i}`);
    }
  });
  out.push('');
  locations.forEach((loc, i) => {
    for (const m of loc.byMethod) out.push(`    use_backend ${m.upstream} if r${i} { method ${m.method} }`);
    out.push(`    use_backend ${loc.upstream} if r${i}`);
  });
  out.push('    default_backend main', '');
  for (const u of plan.upstreams) {
    out.push(`backend ${u.name}`);
    if (u.servers.length > 1) for (const line of HAPROXY_BALANCE[u.balance]) out.push(`    ${line}`);
    u.servers.forEach((s, i) => out.push(`    server ${u.instances[i] ?? `s${i}`} ${s} check`));
    out.push('');
  }
  return out.join('\n');
}

export function renderProxyJson(plan: ProxyPlan): string {
  return JSON.stringify(plan, null, 2) + '\n';
}
