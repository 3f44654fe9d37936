/**
 * Test support for replication:
 *  - a throwaway redis-server: loopback only, a free port, no persistence, and kill/restart on the same
 *    port to simulate outages;
 *  - a stream writer process for replicated writers: a real ReplicationServer on a loopback port, clients
 *    that reach it (wherever it listens now, so a test can restart it elsewhere), a recorder for
 *    `waitFor`, and assertions on the MatrixErrors that come back;
 *  - one stream's writer behind such a process, on a test database, with what it announced.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MatrixError, type StreamChange } from '@hs/core';
import express from 'express';
import { ReplicationClient } from './http-replication-client.ts';
import { ReplicationServer } from './http-replication-server.ts';
import { freePort } from './test-ports.ts';
import type { ReplicatedWriterOptions, ReplicationEndpointRegistry } from './replicated-writer.ts';

export const REDIS_SERVER = process.env['REDIS_SERVER'] ?? '/usr/bin/redis-server';

export { freePort };

/** Resolves once something on `port` answers PING with PONG. */
async function waitForPong(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = net.connect(port, '127.0.0.1');
      let data = '';
      sock.setTimeout(500, () => sock.destroy());
      sock.on('connect', () => sock.write('PING\r\n'));
      sock.on('data', (d) => {
        data += d.toString();
        // A password-protected server answers NOAUTH: it is up all the same.
        if (data.includes('PONG') || data.includes('NOAUTH')) {
          sock.destroy();
          resolve(true);
        }
      });
      sock.on('error', () => resolve(false));
      sock.on('close', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not start`);
    await new Promise((r) => setTimeout(r, 30));
  }
}

export class RedisServer {
  readonly port: number;
  private readonly dir: string;
  private readonly extraArgs: readonly string[];
  private proc: ChildProcess | undefined;

  private constructor(port: number, extraArgs: readonly string[]) {
    this.port = port;
    this.extraArgs = extraArgs;
    this.dir = mkdtempSync(path.join(tmpdir(), 'hs-redis-'));
  }

  static async start(port?: number, extraArgs: readonly string[] = []): Promise<RedisServer> {
    const server = new RedisServer(port ?? (await freePort()), extraArgs);
    await server.restart();
    return server;
  }

  get running(): boolean {
    return this.proc !== undefined;
  }

  /** (Re)starts on the same port. */
  async restart(): Promise<void> {
    if (this.proc) return;
    const proc = spawn(
      REDIS_SERVER,
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir, ...this.extraArgs],
      { stdio: 'ignore' },
    );
    this.proc = proc;
    proc.on('exit', () => {
      if (this.proc === proc) this.proc = undefined;
    });
    await waitForPong(this.port, 5_000);
  }

  /** SIGKILL: like a crash, connections drop without goodbye. */
  async kill(): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    this.proc = undefined;
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await exited;
    }
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The replication secret of `startWriterProcess` and the default of its clients. */
export const REPLICATION_SECRET = 's3cret';
/** The instance name clients know the writer process by. */
export const WRITER = 'writer1';

export interface WriterProcess {
  readonly server: ReplicationServer;
  readonly port: number;
  /** A client of this process, authenticating with `secret` (default: the right one). */
  client(secret?: string): ReplicationClient;
  /**
   * Options for a replicated writer that calls this process with `secret`, recording in `waits` what
   * it waits for (`check` runs in each wait, as in `recordWaits`).
   */
  replicatedOptions(secret?: string, check?: (wait: Wait) => Promise<void>): ReplicatedWriterOptions & { readonly waits: Wait[] };
  close(): Promise<void>;
}

/** A writer process's replication listener; register a writer's endpoints on `server`. */
export async function startWriterProcess(): Promise<WriterProcess> {
  const server = new ReplicationServer({ secret: REPLICATION_SECRET });
  const app = express();
  app.use(server.router);
  const http = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const port = (http.address() as net.AddressInfo).port;
  const client = (secret?: string) => writerClient(() => port, secret);
  return {
    server,
    port,
    client,
    replicatedOptions: (secret, check) => ({ client: client(secret), instance: WRITER, ...recordWaits(check) }),
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
}

/** A writer process serving one stream's writer. */
export interface StreamWriterProcess extends WriterProcess {
  /** Everything the stream's writer announced, in order. */
  readonly notified: StreamChange[];
}

/**
 * A writer process for one stream, as a test file's fixture: `register` builds the stream's writer
 * (on `stream` in `db`, announcing through `notify`) and registers its endpoints on `server`. `close`
 * closes the listener, then flushes the stream and drops the database. (Typed by what is used here, so
 * a TestDatabase and a StreamWriter fit without this package depending on storage.)
 */
export async function startStreamWriterProcess(
  db: { close(): Promise<void> },
  stream: { flush(): Promise<void> },
  register: (server: ReplicationEndpointRegistry, notify: (change: StreamChange) => void) => void,
): Promise<StreamWriterProcess> {
  const proc = await startWriterProcess();
  const notified: StreamChange[] = [];
  register(proc.server, (change) => void notified.push(change));
  return {
    ...proc,
    notified,
    async close() {
      await proc.close();
      await stream.flush();
      await db.close();
    },
  };
}

/**
 * A client for `WRITER` at whatever port `where()` says at each call, so it follows a writer process
 * that a test stopped and started again on a new port.
 */
export function writerClient(where: () => number, secret = REPLICATION_SECRET): ReplicationClient {
  return new ReplicationClient({
    secret,
    instanceMap: (instance) => (instance === WRITER ? { host: '127.0.0.1', port: where() } : undefined),
    retry: { attempts: 2, initialDelayMs: 10, maxDelayMs: 20 },
  });
}

export interface Wait {
  readonly stream: string;
  readonly instance: string;
  readonly position: number;
}

/** A `waitFor` that records its calls; `check` runs inside it (e.g. to see the write is already in Postgres). */
export function recordWaits(check: (wait: Wait) => Promise<void> = async () => {}): {
  readonly waits: Wait[];
  waitFor(stream: string, instance: string, position: number): Promise<void>;
} {
  const waits: Wait[] = [];
  return {
    waits,
    async waitFor(stream, instance, position) {
      const wait = { stream, instance, position };
      await check(wait);
      waits.push(wait);
    },
  };
}

/** Asserts `p` rejects with a MatrixError of this status and errcode (as a writer's error comes back). */
export async function rejectsWith(p: Promise<unknown>, status: number, errcode: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof MatrixError, String(e));
    assert.equal(e.httpStatus, status);
    assert.equal(e.errcode, errcode);
    return true;
  });
}

/** Polls `cond` until it holds (or fails after `ms`). */
export async function eventually(cond: () => boolean, ms = 3000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
