/**
 * The generated configuration run by a real nginx and a real haproxy in front of stub processes: each
 * request must reach a server of the upstream the router simulator predicts, hashed upstreams must be
 * sticky per key and still spread keys, and the forwarding headers must be the proxy's, not the client's.
 * Skips loudly when a proxy is not installed (and fails in CI, which installs both).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { planProxy, renderHaproxy, renderNginx, type ProxyPlan, type ProxyTopology } from '@hs/http';
import { createManifest } from '../src/endpoints.ts';
import { haproxyRouter, nginxRouter, type Router, type SimRequest } from './routes-simulator.ts';

interface Seen {
  instance: string;
  xff: string | undefined;
  xfp: string | undefined;
}

const INSTANCES = ['main', 'generic1', 'generic2', 'writer1', 'media1'] as const;
const servers: http.Server[] = [];
const addressOf = new Map<string, string>();
const instanceAt = new Map<string, string>();
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hs-proxies-'));
let plan: ProxyPlan;

before(async () => {
  for (const instance of INSTANCES) {
    const server = http.createServer((req, res) => {
      req.resume();
      const seen: Seen = { instance, xff: req.headers['x-forwarded-for'] as string | undefined, xfp: req.headers['x-forwarded-proto'] as string | undefined };
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(seen));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    servers.push(server);
    const address = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    addressOf.set(instance, address);
    instanceAt.set(address, instance);
  }
  const at = (name: string) => addressOf.get(name) as string;
  const topology: ProxyTopology = {
    main: at('main'),
    workers: [
      { name: 'generic1', kind: 'generic_worker', address: at('generic1') },
      { name: 'generic2', kind: 'generic_worker', address: at('generic2') },
      { name: 'writer1', kind: 'generic_worker', address: at('writer1') },
      { name: 'media1', kind: 'media_repository', address: at('media1') },
    ],
    streamWriters: { events: ['main'], typing: ['writer1'], to_device: ['writer1'], account_data: ['writer1'], receipts: ['main'], presence: ['main'] },
  };
  plan = planProxy(createManifest(), topology);
});

after(() => {
  for (const s of servers) s.closeAllConnections();
  for (const s of servers) s.close();
  fs.rmSync(root, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) assert.fail(`the proxy exited (${child.exitCode}): ${log()}`);
    const ok = await new Promise<boolean>((r) => {
      const c = net.connect(port, '127.0.0.1', () => {
        c.destroy();
        r(true);
      });
      c.on('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`the proxy did not listen on ${port}: ${log()}`);
}

interface Proxy {
  readonly bin: string[];
  readonly render: (plan: ProxyPlan, listen: string) => { file: string; text: string; args: string[] };
  readonly router: (text: string) => Router;
}

const PROXIES: Record<string, Proxy> = {
  nginx: {
    bin: ['/usr/sbin/nginx', '/usr/bin/nginx'],
    render(p, listen) {
      const dir = fs.mkdtempSync(path.join(root, 'nginx-'));
      const text = renderNginx(p, { listen });
      const file = path.join(dir, 'nginx.conf');
      const temp = ['client_body', 'proxy'].map((k) => `  ${k}_temp_path ${dir}/${k};`).join('\n');
      fs.writeFileSync(file, `daemon off;\nmaster_process off;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents {}\nhttp {\n  access_log off;\n${temp}\n${text}\n}\n`);
      return { file, text, args: ['-p', dir, '-e', `${dir}/error.log`, '-c', file] };
    },
    router: nginxRouter,
  },
  haproxy: {
    bin: ['/usr/sbin/haproxy', '/usr/bin/haproxy', '/usr/local/sbin/haproxy'],
    render(p, listen) {
      const text = renderHaproxy(p, { listen });
      const file = path.join(fs.mkdtempSync(path.join(root, 'haproxy-')), 'haproxy.cfg');
      fs.writeFileSync(file, text);
      return { file, text, args: ['-db', '-f', file] };
    },
    router: haproxyRouter,
  },
};

for (const [name, proxy] of Object.entries(PROXIES)) {
  describe(`routes through a real ${name}`, () => {
    const bin = proxy.bin.find((b) => fs.existsSync(b));
    let child: ChildProcess | undefined;
    let base = '';
    let router: Router;
    let output = '';

    before(async () => {
      if (!bin) return;
      const port = await freePort();
      const { text, args } = proxy.render(plan, `127.0.0.1:${port}`);
      router = proxy.router(text);
      child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
      await waitForPort(port, child, () => output);
      base = `http://127.0.0.1:${port}`;
    });

    after(async () => {
      if (child && child.exitCode === null) {
        const exited = new Promise((r) => child?.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
    });

    async function send(req: SimRequest & { headers?: Record<string, string> }): Promise<{ status: number; seen?: Seen }> {
      const res = await fetch(base + req.path, {
        method: req.method,
        headers: { ...(req.authorization ? { authorization: req.authorization } : {}), ...req.headers },
        ...(req.method === 'PUT' || req.method === 'POST' ? { body: '{}' } : {}),
      });
      const text = await res.text();
      return res.status === 200 ? { status: 200, seen: JSON.parse(text) as Seen } : { status: res.status };
    }

    /** Sends the request and checks it reached a server of the predicted upstream; returns that server. */
    async function check(req: SimRequest): Promise<string> {
      const predicted = router.route(req);
      const got = await send(req);
      if ('status' in predicted) {
        assert.equal(got.status, predicted.status, `${req.method} ${req.path}`);
        return '';
      }
      assert.equal(got.status, 200, `${req.method} ${req.path}: ${output}`);
      const upstream = router.upstreams.get(predicted.upstream);
      const servers = (upstream?.servers ?? []).map((a) => instanceAt.get(a));
      assert.ok(servers.includes(got.seen?.instance), `${req.method} ${req.path}: expected one of ${servers.join(', ')} (${predicted.upstream}), reached ${got.seen?.instance}`);
      return got.seen?.instance ?? '';
    }

    it('sends each kind of request to the predicted upstream', async (t) => {
      if (!bin) {
        if (process.env['CI']) assert.fail(`${name} is not installed (CI must install it)`);
        console.warn(`!!! SKIPPED: ${name} is not installed; the generated configuration was not run`);
        return t.skip(`${name} not installed`);
      }
      const room = encodeURIComponent('!room:example.com');
      const user = encodeURIComponent('@a:example.com');
      assert.equal(await check({ method: 'PUT', path: `/_matrix/client/v3/rooms/${room}/typing/${user}` }), 'writer1');
      assert.equal(await check({ method: 'PUT', path: `/_matrix/client/v3/user/${user}/account_data/m.direct` }), 'writer1', 'PUT goes to the writer');
      assert.match(await check({ method: 'GET', path: `/_matrix/client/v3/user/${user}/account_data/m.direct` }), /^generic[12]$/, 'GET on the same path to the pool');
      assert.equal(await check({ method: 'POST', path: `/_matrix/client/v3/rooms/${room}/receipt/m.read/%24ev` }), 'main', 'receipts are written by main');
      assert.equal(await check({ method: 'GET', path: '/_matrix/client/v1/media/download/example.com/abc' }), 'media1');
      assert.equal(await check({ method: 'POST', path: '/_synapse/admin/v1/register' }), 'main');
      assert.equal(await check({ method: 'GET', path: '/no/such/path' }), 'main');
      await check({ method: 'POST', path: '/_synapse/replication/send_event/x/y/txn' });
      assert.equal((await send({ method: 'POST', path: '/_synapse/replication/send_event/x/y/txn' })).status, 404);
    });

    it('keeps a room, and an access token, on one worker while spreading them over the pool', async (t) => {
      if (!bin) return t.skip(`${name} not installed`);
      for (const [what, make] of [
        ['room', (i: number, n: number) => ({ method: 'PUT', path: `/_matrix/client/v3/rooms/${encodeURIComponent(`!r${i}:example.com`)}/send/m.room.message/txn${n}` })],
        ['access token', (i: number) => ({ method: 'GET', path: '/_matrix/client/v3/sync', authorization: `Bearer token${i}` })],
      ] as const) {
        const used = new Set<string>();
        for (let i = 0; i < 16; i++) {
          const first = await check(make(i, 0));
          for (let n = 1; n < 3; n++) assert.equal(await check(make(i, n)), first, `${what} ${i} moved between workers`);
          used.add(first);
        }
        assert.ok(used.size >= 2, `16 different ${what}s all hashed to ${[...used].join()}`);
        assert.ok([...used].every((u) => ['generic1', 'generic2', 'writer1'].includes(u)));
      }
    });

    it("passes the proxy's view of the client, not the client's claims", async (t) => {
      if (!bin) return t.skip(`${name} not installed`);
      const got = await send({ method: 'GET', path: '/_matrix/client/versions', headers: { 'x-forwarded-for': '203.0.113.66', 'x-forwarded-proto': 'https' } });
      assert.equal(got.seen?.xff, '127.0.0.1');
      assert.equal(got.seen?.xfp, 'http');
    });
  });
}
