/**
 * Router simulators for the tests of `homeserver routes`: each takes generated configuration and answers
 * "which upstream gets this request, and on what value does that upstream hash it", so tests assert
 * behaviour rather than strings. They interpret the subset of nginx and haproxy the generator writes, the
 * way those proxies do: nginx stops at a `^~` prefix, else takes the first matching regex location, else
 * `location /`, matching the decoded URI; haproxy runs the http-request rules, then the first matching
 * `use_backend`, else `default_backend`, matching the raw path.
 */
import assert from 'node:assert/strict';
import type { ProxyPlan } from '@hs/http';

export interface SimRequest {
  readonly method: string;
  readonly path: string;
  readonly authorization?: string;
  readonly clientIp?: string;
}

export interface SimUpstream {
  readonly servers: readonly string[];
  /** The request attribute the upstream hashes on, or null for least-connections / a single server. */
  readonly hashOn: 'authorization' | 'room' | 'client_ip' | null;
}

export type SimResult = { readonly status: 404 } | { readonly upstream: string; readonly key: string | null };

export interface Router {
  readonly upstreams: ReadonlyMap<string, SimUpstream>;
  route(req: SimRequest): SimResult;
}

function keyFor(hashOn: SimUpstream['hashOn'], req: SimRequest, room: string | undefined): string | null {
  if (hashOn === 'authorization') return req.authorization ?? '';
  if (hashOn === 'client_ip') return req.clientIp ?? '';
  if (hashOn === 'room') return room ?? '';
  return null;
}

function lookup(upstreams: ReadonlyMap<string, SimUpstream>, name: string): SimUpstream {
  const u = upstreams.get(name);
  assert.ok(u, `the configuration proxies to an undefined upstream "${name}"`);
  return u;
}

/** The plan itself: the first route whose method and regex match, else main. */
export function planRouter(plan: ProxyPlan): Router {
  const HASH = { any: null, access_token: 'authorization', room: 'room', source_ip: 'client_ip' } as const;
  const upstreams = new Map<string, SimUpstream>(plan.upstreams.map((u) => [u.name, { servers: u.servers, hashOn: u.servers.length > 1 ? HASH[u.balance] : null }]));
  return {
    upstreams,
    route(req) {
      if (req.path.startsWith('/_synapse/replication/')) return { status: 404 };
      const path = decodeURIComponent(req.path);
      for (const r of plan.routes) {
        if (r.method !== req.method || !new RegExp(r.regex).test(path)) continue;
        const room = r.room ? new RegExp(r.room.regex).exec(path)?.groups?.['room'] : undefined;
        return { upstream: r.upstream, key: keyFor(lookup(upstreams, r.upstream).hashOn, req, room) };
      }
      return { upstream: 'main', key: null };
    },
  };
}

interface NginxLocation {
  readonly regex: RegExp;
  readonly upstream: string;
  readonly byMethod: ReadonlyMap<string, string>;
}

export function nginxRouter(text: string): Router {
  const upstreams = new Map<string, SimUpstream>();
  for (const m of text.matchAll(/^upstream (\S+) \{\n([\s\S]*?)^\}/gm)) {
    const body = m[2] as string;
    const hash = /^\s+hash \$(\S+) consistent;/m.exec(body)?.[1];
    const hashOn = hash === 'http_authorization' ? 'authorization' : hash === 'hs_room' ? 'room' : hash === 'remote_addr' ? 'client_ip' : null;
    if (hash && !hashOn) assert.fail(`unknown nginx hash key $${hash}`);
    upstreams.set(m[1] as string, { servers: [...body.matchAll(/^\s+server (\S+);/gm)].map((s) => s[1] as string), hashOn });
  }
  const stopPrefixes = [...text.matchAll(/^\s+location \^~ (\S+) \{ return 404; \}/gm)].map((m) => m[1] as string);
  const locations: NginxLocation[] = [];
  for (const m of text.matchAll(/^\s+location ~ (\S+) \{\n([\s\S]*?)^\s+\}/gm)) {
    const body = m[2] as string;
    const direct = /proxy_pass http:\/\/(\w[^;$]*);/.exec(body)?.[1];
    const fallback = /set \$hs_upstream (\S+);\n/.exec(body)?.[1];
    const byMethod = new Map([...body.matchAll(/if \(\$request_method = (\w+)\) \{ set \$hs_upstream (\S+); \}/g)].map((x) => [x[1] as string, x[2] as string]));
    const upstream = direct ?? fallback;
    assert.ok(upstream, `location ${m[1]} proxies nowhere`);
    locations.push({ regex: new RegExp(m[1] as string), upstream, byMethod });
  }
  const rootPass = /location \/ \{\n\s+proxy_pass http:\/\/(\S+);/.exec(text)?.[1];
  assert.ok(rootPass, 'no location /');
  return {
    upstreams,
    route(req) {
      // nginx matches locations against the normalised, percent-decoded URI.
      const uri = decodeURIComponent(req.path);
      if (stopPrefixes.some((p) => uri.startsWith(p))) return { status: 404 };
      for (const loc of locations) {
        const m = loc.regex.exec(uri);
        if (!m) continue;
        const upstream = loc.byMethod.get(req.method) ?? loc.upstream;
        return { upstream, key: keyFor(lookup(upstreams, upstream).hashOn, req, m.groups?.['hs_room']) };
      }
      return { upstream: rootPass, key: null };
    },
  };
}

export function haproxyRouter(text: string): Router {
  const frontend = /^frontend \S+\n([\s\S]*?)(?=^\S)/m.exec(text)?.[1];
  assert.ok(frontend, 'no frontend');
  const acls = new Map([...frontend.matchAll(/^\s+acl (\S+) path_reg '([^']+)'$/gm)].map((m) => [m[1] as string, new RegExp(m[2] as string)]));
  const denies = [...frontend.matchAll(/^\s+http-request deny deny_status 404 if \{ path_beg (\S+) \}$/gm)].map((m) => m[1] as string);
  const roomVars = [...frontend.matchAll(/^\s+http-request set-var\(txn\.hs_room\) path,field\((\d+),\/\),url_dec if (\S+)$/gm)].map((m) => ({ field: Number(m[1]), acl: m[2] as string }));
  const rules = [...frontend.matchAll(/^\s+use_backend (\S+) if (\S+)(?: \{ method (\w+) \})?$/gm)].map((m) => ({ backend: m[1] as string, acl: m[2] as string, method: m[3] }));
  const fallback = /^\s+default_backend (\S+)$/m.exec(frontend)?.[1];
  assert.ok(fallback, 'no default_backend');
  for (const r of [...rules, ...roomVars]) assert.ok(acls.has(r.acl), `rule uses undefined acl ${r.acl}`);

  const upstreams = new Map<string, SimUpstream>();
  for (const m of text.matchAll(/^backend (\S+)\n([\s\S]*?)(?=^\S|(?![\s\S]))/gm)) {
    const body = m[2] as string;
    const balance = /^\s+balance (\S+)$/m.exec(body)?.[1];
    const roomHeader = /^\s+http-request set-header (\S+) %\[var\(txn\.hs_room\)\]$/m.exec(body)?.[1];
    let hashOn: SimUpstream['hashOn'] = null;
    if (balance === 'hdr(Authorization)') hashOn = 'authorization';
    else if (balance === 'source') hashOn = 'client_ip';
    else if (roomHeader && balance === `hdr(${roomHeader})`) hashOn = 'room';
    else if (balance !== undefined && balance !== 'leastconn') assert.fail(`unexpected balance ${balance} in backend ${m[1]}`);
    if (hashOn && !/^\s+hash-type consistent$/m.test(body)) assert.fail(`backend ${m[1]} hashes without hash-type consistent`);
    upstreams.set(m[1] as string, { servers: [...body.matchAll(/^\s+server \S+ (\S+)/gm)].map((s) => s[1] as string), hashOn });
  }
  return {
    upstreams,
    route(req) {
      if (denies.some((p) => req.path.startsWith(p))) return { status: 404 };
      const matches = (acl: string) => (acls.get(acl) as RegExp).test(req.path);
      let room: string | undefined;
      for (const v of roomVars) if (matches(v.acl)) room = decodeURIComponent(req.path.split('/')[v.field - 1] ?? '');
      const rule = rules.find((r) => matches(r.acl) && (r.method === undefined || r.method === req.method));
      const upstream = rule?.backend ?? fallback;
      return { upstream, key: keyFor(lookup(upstreams, upstream).hashOn, req, room) };
    },
  };
}

/** A concrete path for a template: parameters filled in, an alternation's first choice taken. */
export function samplePath(template: string, params: Readonly<Record<string, string>> = {}, values: Readonly<Record<string, string>> = {}): string {
  return template.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => values[name] ?? params[name]?.split('|')[0] ?? `x${name}`);
}
