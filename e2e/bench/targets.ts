/**
 * The servers a benchmark can drive, started the same way: loopback, open registration, rate limits
 * out of the way, presence on unless asked otherwise, INFO logs to a file (not through a pipe the load generator must drain),
 * each on its own embedded Postgres with the same binaries and settings.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EmbeddedPostgres } from '@hs/storage/embedded-postgres';
import type { ConnectionTarget } from '@hs/storage/connection-settings';
import { Fleet, type FleetSpec } from '../support/fleet.ts';
import { startTestServer } from '../support/server.ts';
import { startSynapse } from '../support/synapse.ts';

/** Our server as a fleet behind nginx (`Fleet`), in the topologies `bench:workers` compares. */
export const FLEET_TOPOLOGIES = {
  'fleet-single': { genericWorkers: 0, eventPersisters: 0, streamWriter: false },
  'fleet-generic2': { genericWorkers: 2, eventPersisters: 0, streamWriter: false },
  'fleet-generic2-persist2': { genericWorkers: 2, eventPersisters: 2, streamWriter: false },
} as const satisfies Record<string, FleetSpec>;
export type FleetTargetName = keyof typeof FLEET_TOPOLOGIES;

export type TargetName = 'ours' | 'synapse' | FleetTargetName;
/** The single-process servers `bench:cs --target both` compares. */
export const TARGETS: readonly TargetName[] = ['ours', 'synapse'];
export const ALL_TARGETS: readonly TargetName[] = [...TARGETS, ...(Object.keys(FLEET_TOPOLOGIES) as FleetTargetName[])];

export interface Target {
  readonly name: TargetName;
  readonly baseUrl: string;
  /** The process serving HTTP (the Node homeserver, or Synapse's Python process). */
  readonly serverPid: number;
  /** The postmaster of the target's Postgres; its backends are its children. */
  readonly postgresPid: number | undefined;
  readonly database: string;
  /** Further processes of the server measured one by one (a fleet's workers and nginx), name → pid. */
  readonly otherPids: ReadonlyArray<readonly [string, number]>;
  /** How to reach the target's database as a superuser (for `--pg-stats`). */
  readonly postgres: ConnectionTarget | undefined;
  /** The server's log file (removed by `stop`). */
  readonly logPath: string;
  stop(): Promise<void>;
}

const UNLIMITED = '{"per_second": 1000000, "burst_count": 1000000}';
/** The rate-limit keys both servers read (Synapse's names); the Synapse helper sets its extra ones itself. */
const RATE_LIMITS_OFF = [
  `rc_message: ${UNLIMITED}`,
  `rc_registration: ${UNLIMITED}`,
  `rc_admin_redaction: ${UNLIMITED}`,
  `rc_joins_per_room: ${UNLIMITED}`,
  `rc_login: {"address": ${UNLIMITED}, "account": ${UNLIMITED}, "failed_attempts": ${UNLIMITED}}`,
  `rc_joins: {"local": ${UNLIMITED}, "remote": ${UNLIMITED}}`,
  `rc_invites: {"per_room": ${UNLIMITED}, "per_user": ${UNLIMITED}, "per_issuer": ${UNLIMITED}}`,
];

function readPid(file: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export interface TargetOptions {
  /** Python-style level for the server's log file: DEBUG, INFO, WARNING, ERROR. */
  logLevel: string;
  presence: boolean;
}

/** A log configuration writing at `logLevel` to a file in a fresh directory (every process of a fleet appends to it). */
function logToFile(logLevel: string): { logDir: string; logConfig: string; logPath: string } {
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hs-bench-log-'));
  const logConfig = path.join(logDir, 'log.yaml');
  const logPath = path.join(logDir, 'homeserver.log');
  // Synapse's dictConfig shape, which our server reads too: root level and a file handler.
  fs.writeFileSync(
    logConfig,
    JSON.stringify({ version: 1, handlers: { file: { class: 'logging.FileHandler', filename: logPath } }, root: { level: logLevel, handlers: ['file'] } }),
  );
  return { logDir, logConfig, logPath };
}

const benchConfig = (presence: boolean, logConfig: string) => [...RATE_LIMITS_OFF, `presence: {"enabled": ${presence}}`, `log_config: ${JSON.stringify(logConfig)}`];

async function startOurs({ logLevel, presence }: TargetOptions): Promise<Target> {
  const { logDir, logConfig, logPath } = logToFile(logLevel);
  const server = await startTestServer(benchConfig(presence, logConfig));
  const pid = server.process.child.pid;
  if (pid === undefined) throw new Error('our server has no pid');
  return {
    name: 'ours',
    baseUrl: server.baseUrl,
    serverPid: pid,
    postgresPid: readPid(path.join(server.dataDir, 'postgres', 'pgdata', 'postmaster.pid')),
    postgres: EmbeddedPostgres.attachTarget(path.join(server.dataDir, 'postgres')),
    database: 'postgres (embedded)',
    otherPids: [],
    logPath,
    async stop() {
      await server.stop();
      fs.rmSync(logDir, { recursive: true, force: true });
    },
  };
}

async function startSynapseTarget({ logLevel, presence }: TargetOptions): Promise<Target> {
  const level = logLevel.toUpperCase() === 'WARN' ? 'WARNING' : (logLevel.toUpperCase() as 'INFO');
  const s = await startSynapse({ logLevel: level, extraConfig: { presence: { enabled: presence } } });
  return {
    name: 'synapse',
    baseUrl: s.baseUrl,
    serverPid: s.pid,
    postgresPid: s.postgresPid,
    postgres: s.database === 'postgres' ? { ...(EmbeddedPostgres.attachTarget(path.join(s.dir, 'postgres')) as ConnectionTarget), database: 'synapse' } : undefined,
    database: s.database === 'postgres' ? 'postgres (embedded)' : 'SQLITE (not comparable)',
    otherPids: [],
    logPath: s.logPath,
    stop: () => s.stop(),
  };
}

async function startFleetTarget(name: FleetTargetName, { logLevel, presence }: TargetOptions): Promise<Target> {
  const { logDir, logConfig, logPath } = logToFile(logLevel);
  const fleet = await Fleet.start({ ...FLEET_TOPOLOGIES[name], extraConfig: benchConfig(presence, logConfig) });
  const pidOf = (process: string) => fleet.processes.get(process)?.child.pid as number;
  const others: [string, number][] = [...fleet.processes.keys()].filter((p) => p !== 'main').map((p) => [p, pidOf(p)]);
  if (fleet.nginxPid !== undefined) others.push(['nginx', fleet.nginxPid]);
  return {
    name,
    baseUrl: fleet.baseUrl,
    serverPid: pidOf('main'),
    postgresPid: readPid(path.join(fleet.dir, 'postgres', 'pgdata', 'postmaster.pid')),
    postgres: EmbeddedPostgres.attachTarget(path.join(fleet.dir, 'postgres')),
    database: 'postgres (embedded)',
    otherPids: others,
    logPath,
    async stop() {
      await fleet.stop();
      fs.rmSync(logDir, { recursive: true, force: true });
    },
  };
}

export function startTarget(name: TargetName, opts: TargetOptions): Promise<Target> {
  if (name === 'ours') return startOurs(opts);
  if (name === 'synapse') return startSynapseTarget(opts);
  return startFleetTarget(name, opts);
}
