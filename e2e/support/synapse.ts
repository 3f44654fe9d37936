/**
 * A real Synapse on loopback, for side-by-side benchmarks and interop tests: `python3 -m
 * synapse.app.homeserver` with a config we write into a temp dir, backed by its own embedded Postgres
 * (the same binaries and settings our server uses, so database costs compare fairly). Falls back to
 * SQLite, loudly, when psycopg2 or Postgres is not available.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { silentLogger } from '@hs/core';
import { freePort } from '@hs/replication/testing';
import { EmbeddedPostgres } from '@hs/storage';

export interface SynapseOptions {
  /** Default: a free loopback port. The server name is `localhost:<port>`. */
  port?: number;
  /** Default 'postgres'; 'sqlite' skips Postgres altogether. */
  database?: 'postgres' | 'sqlite';
  /** Python log level for Synapse's log file (`<dir>/homeserver.log`). Default INFO, as Synapse ships. */
  logLevel?: 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR';
  /** Top-level keys merged over the generated config (e.g. federation settings for interop tests). */
  extraConfig?: Record<string, unknown>;
  /** How long to wait for `/_matrix/client/versions` to answer. Default 180 s (first start migrates the schema). */
  startTimeoutMs?: number;
  /** The Python interpreter. Default `$SYNAPSE_PYTHON` or `python3`. */
  python?: string;
  /**
   * Wait until the fresh database's background updates (dozens of index and data migrations) are done
   * before returning, so they do not run during a measurement. Default true.
   */
  waitForBackgroundUpdates?: boolean;
}

export interface SynapseServer {
  readonly baseUrl: string;
  readonly serverName: string;
  /** The Synapse (Python) process. */
  readonly pid: number;
  /** The postmaster of Synapse's own Postgres, when it has one. */
  readonly postgresPid: number | undefined;
  readonly database: 'postgres' | 'sqlite';
  readonly dir: string;
  readonly configPath: string;
  readonly logPath: string;
  readonly registrationSharedSecret: string;
  stop(): Promise<void>;
}

const RATE_LIMIT_OFF = { per_second: 1_000_000, burst_count: 1_000_000 };

/** Rate limits high enough never to trigger under test or benchmark load. */
export const SYNAPSE_RATE_LIMITS_OFF: Record<string, unknown> = {
  rc_message: RATE_LIMIT_OFF,
  rc_registration: RATE_LIMIT_OFF,
  rc_registration_token_validity: RATE_LIMIT_OFF,
  rc_login: { address: RATE_LIMIT_OFF, account: RATE_LIMIT_OFF, failed_attempts: RATE_LIMIT_OFF },
  rc_admin_redaction: RATE_LIMIT_OFF,
  rc_joins: { local: RATE_LIMIT_OFF, remote: RATE_LIMIT_OFF },
  rc_joins_per_room: RATE_LIMIT_OFF,
  rc_invites: { per_room: RATE_LIMIT_OFF, per_user: RATE_LIMIT_OFF, per_issuer: RATE_LIMIT_OFF },
  rc_third_party_invite: RATE_LIMIT_OFF,
  rc_3pid_validation: RATE_LIMIT_OFF,
  rc_key_requests: RATE_LIMIT_OFF,
  rc_media_create: RATE_LIMIT_OFF,
  rc_presence: { per_user: RATE_LIMIT_OFF },
  rc_delayed_event_mgmt: RATE_LIMIT_OFF,
  rc_room_creation: RATE_LIMIT_OFF,
  rc_reports: RATE_LIMIT_OFF,
  rc_profile: RATE_LIMIT_OFF,
  rc_user_directory: RATE_LIMIT_OFF,
};

/** Synapse's signing key file format: `ed25519 <key id> <unpadded base64 seed>`. */
function signingKeyFile(): string {
  const jwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
  const seed = Buffer.from(jwk.d as string, 'base64url').toString('base64').replace(/=+$/, '');
  return `ed25519 a_${randomBytes(3).toString('hex')} ${seed}\n`;
}

function hasPsycopg2(python: string): boolean {
  return spawnSync(python, ['-c', 'import psycopg2'], { stdio: 'ignore' }).status === 0;
}

function loud(message: string): void {
  const bar = '!'.repeat(78);
  process.stderr.write(`\n${bar}\n!! ${message}\n${bar}\n\n`);
}

/** A database for Synapse on its own embedded Postgres, with the encoding and collation Synapse insists on. */
async function startPostgres(dir: string): Promise<{ pg: EmbeddedPostgres; args: Record<string, unknown>; pid: number }> {
  const pg = new EmbeddedPostgres(path.join(dir, 'postgres'), silentLogger);
  const target = await pg.start();
  try {
    const admin = postgres({ ...target, database: 'postgres', max: 1, onnotice: () => {} });
    try {
      await admin.unsafe(`CREATE DATABASE synapse ENCODING 'UTF8' LC_COLLATE='C' LC_CTYPE='C' TEMPLATE=template0`);
    } finally {
      await admin.end();
    }
    const pid = Number(fs.readFileSync(path.join(pg.pgData, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const args = { user: target.user, password: target.password, database: 'synapse', host: target.host, port: target.port, cp_min: 5, cp_max: 10 };
    return { pg, args, pid };
  } catch (e) {
    await pg.stop();
    throw e;
  }
}

function logConfig(logPath: string, level: string): Record<string, unknown> {
  return {
    version: 1,
    formatters: { precise: { format: '%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(request)s - %(message)s' } },
    handlers: { file: { class: 'logging.FileHandler', formatter: 'precise', filename: logPath, encoding: 'utf8' } },
    loggers: { 'synapse.storage.SQL': { level: 'INFO' } },
    root: { level, handlers: ['file'] },
    disable_existing_loggers: false,
  };
}

/** Count the rows of Synapse's `background_updates` table (work still queued). */
async function pendingBackgroundUpdates(db: Record<string, unknown>, python: string): Promise<number> {
  const args = db.args as Record<string, unknown>;
  if (db.name === 'psycopg2') {
    const sql = postgres({ host: args.host as string, port: args.port as number, user: args.user as string, password: args.password as string, database: args.database as string, max: 1, onnotice: () => {} });
    try {
      const [row] = await sql<{ n: number }[]>`select count(*)::int as n from background_updates`;
      return row?.n ?? 0;
    } finally {
      await sql.end();
    }
  }
  const script = 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from background_updates").fetchone()[0])';
  const r = spawnSync(python, ['-c', script, args.database as string], { encoding: 'utf8' });
  return r.status === 0 ? Number(r.stdout.trim()) : NaN;
}

async function waitForBackgroundUpdates(db: Record<string, unknown>, python: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let pending = NaN;
  while (Date.now() < deadline) {
    pending = await pendingBackgroundUpdates(db, python);
    if (pending === 0) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  process.stderr.write(`warning: Synapse still has ${pending} background updates queued after ${timeoutMs} ms\n`);
}

async function waitUntilReady(baseUrl: string, child: ChildProcess, timeoutMs: number, describe: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`Synapse exited during start-up (code ${child.exitCode}, signal ${child.signalCode}):\n${describe()}`);
    }
    try {
      const res = await fetch(`${baseUrl}/_matrix/client/versions`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`Synapse did not answer /_matrix/client/versions within ${timeoutMs} ms:\n${describe()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function tail(file: string, lines: number): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export async function startSynapse(opts: SynapseOptions = {}): Promise<SynapseServer> {
  const python = opts.python ?? process.env.SYNAPSE_PYTHON ?? 'python3';
  // 0711: as root the embedded Postgres runs as the `postgres` user, who must traverse into it.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hs-synapse-'));
  fs.chmodSync(dir, 0o711);
  const port = opts.port ?? (await freePort());
  const serverName = `localhost:${port}`;
  const baseUrl = `http://127.0.0.1:${port}`;
  const logPath = path.join(dir, 'homeserver.log');
  const configPath = path.join(dir, 'homeserver.yaml');
  const sharedSecret = randomBytes(24).toString('base64url');

  let pg: EmbeddedPostgres | undefined;
  let postgresPid: number | undefined;
  let database: Record<string, unknown>;
  let kind: 'postgres' | 'sqlite' = opts.database ?? 'postgres';
  if (kind === 'postgres' && !hasPsycopg2(python)) {
    loud(`Synapse runs on SQLite: ${python} cannot import psycopg2 (pip install psycopg2-binary). Figures are NOT comparable.`);
    kind = 'sqlite';
  }
  if (kind === 'postgres') {
    try {
      const started = await startPostgres(dir);
      pg = started.pg;
      postgresPid = started.pid;
      database = { name: 'psycopg2', args: started.args };
    } catch (e) {
      loud(`Synapse runs on SQLite: its embedded Postgres failed to start (${(e as Error).message.split('\n')[0]}). Figures are NOT comparable.`);
      kind = 'sqlite';
    }
  }
  if (kind === 'sqlite') database = { name: 'sqlite3', args: { database: path.join(dir, 'homeserver.db') } };

  fs.writeFileSync(path.join(dir, 'signing.key'), signingKeyFile(), { mode: 0o600 });
  fs.writeFileSync(path.join(dir, 'log.yaml'), JSON.stringify(logConfig(logPath, opts.logLevel ?? 'INFO'), null, 2));
  // JSON is YAML, so no YAML writer is needed.
  const config: Record<string, unknown> = {
    server_name: serverName,
    public_baseurl: `${baseUrl}/`,
    pid_file: path.join(dir, 'homeserver.pid'),
    listeners: [
      { port, type: 'http', tls: false, x_forwarded: false, bind_addresses: ['127.0.0.1'], resources: [{ names: ['client', 'federation'], compress: false }] },
    ],
    database: database!,
    log_config: path.join(dir, 'log.yaml'),
    media_store_path: path.join(dir, 'media_store'),
    signing_key_path: path.join(dir, 'signing.key'),
    registration_shared_secret: sharedSecret,
    macaroon_secret_key: randomBytes(24).toString('base64url'),
    form_secret: randomBytes(24).toString('base64url'),
    report_stats: false,
    enable_metrics: false,
    enable_registration: true,
    enable_registration_without_verification: true,
    // Password hashing is not what tests or benches measure; the default (12 rounds) makes set-up slow.
    bcrypt_rounds: 4,
    presence: { enabled: true },
    trusted_key_servers: [],
    suppress_key_server_warning: true,
    url_preview_enabled: false,
    // A fresh database queues dozens of background updates, paced one batch a second by default.
    background_updates: { sleep_enabled: false },
    default_room_version: '12',
    ...SYNAPSE_RATE_LIMITS_OFF,
    ...opts.extraConfig,
  };
  fs.writeFileSync(configPath, JSON.stringify(config, null, 2));

  let output = '';
  const child = spawn(python, ['-m', 'synapse.app.homeserver', '-c', configPath], {
    cwd: dir,
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keep = (d: Buffer) => {
    output = (output + d.toString()).slice(-20_000);
    if (process.env.HS_E2E_VERBOSE) process.stderr.write(d);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // If the caller dies without stopping us, do not leave Synapse and its Postgres running.
  const onExit = () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    if (postgresPid) {
      try {
        process.kill(postgresPid, 'SIGINT');
      } catch {
        /* already gone */
      }
    }
  };
  process.once('exit', onExit);

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    await pg?.stop();
    process.removeListener('exit', onExit);
    fs.rmSync(dir, { recursive: true, force: true });
  };

  try {
    if (child.pid === undefined) throw new Error(`could not start ${python}`);
    await waitUntilReady(baseUrl, child, opts.startTimeoutMs ?? 180_000, () => `${output}\n--- ${logPath} ---\n${tail(logPath, 40)}`);
    if (opts.waitForBackgroundUpdates !== false) await waitForBackgroundUpdates(database!, python, 120_000);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    baseUrl,
    serverName,
    pid: child.pid,
    postgresPid,
    database: kind,
    dir,
    configPath,
    logPath,
    registrationSharedSecret: sharedSecret,
    stop,
  };
}
