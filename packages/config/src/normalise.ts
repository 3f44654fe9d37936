/**
 * Raw YAML values → the typed `Config`, with defaults. Written defensively: it also runs on configs that
 * failed schema validation (so that the cross-key checks can still report their problems in the same
 * run), and then falls back to defaults wherever a value has the wrong shape.
 */
import path from 'node:path';
import type { JsonObject } from '@hs/core';
import {
  MAIN_INSTANCE,
  RESOURCE_NAMES,
  STREAM_NAMES,
  type Config,
  type DatabaseConfig,
  type InstanceLocation,
  type ListenerConfig,
  type PostgresDatabaseConfig,
  type RateLimit,
  type RateLimits,
  type RedisConfig,
  type ResourceName,
  type StreamName,
} from './config-types.ts';
import { signingKeyFileName } from './signing-key.ts';
import { parseDuration, parseSize } from './units.ts';
import { canonicalWorkerApp } from './worker-app.ts';

export interface NormaliseOptions {
  /** Directory that default paths (signing key, media store, embedded database) are placed under. */
  baseDir: string;
  /** Postgres user when `database.args.user` is absent (libpq's default is the OS user). */
  osUser: string;
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const obj = (o: Obj, k: string): Obj => (isObj(o[k]) ? o[k] : {});
const str = (o: Obj, k: string): string | undefined => (typeof o[k] === 'string' && o[k] !== '' ? o[k] : undefined);
const bool = (o: Obj, k: string): boolean | undefined => (typeof o[k] === 'boolean' ? o[k] : undefined);
const int = (o: Obj, k: string): number | undefined => (Number.isSafeInteger(o[k]) ? (o[k] as number) : undefined);
const num = (o: Obj, k: string): number | undefined =>
  typeof o[k] === 'number' && Number.isFinite(o[k]) ? o[k] : undefined;
const strings = (v: unknown): string[] | undefined =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && x !== '') : undefined;

/** Synapse calls the main process `master` in some places and `main` in others; we say `main`. */
export function normaliseInstanceName(name: string): string {
  return name === 'master' ? MAIN_INSTANCE : name;
}

const DEFAULT_BIND_ADDRESSES = ['::', '0.0.0.0'];

export function normaliseListener(raw: unknown): ListenerConfig | undefined {
  if (!isObj(raw)) return undefined;
  const type = raw['type'] === 'metrics' || raw['type'] === 'manhole' ? raw['type'] : 'http';
  const resources = (Array.isArray(raw['resources']) ? raw['resources'] : []).filter(isObj).map((r) => ({
    names: (strings(r['names']) ?? []).filter((n): n is ResourceName => (RESOURCE_NAMES as readonly string[]).includes(n)),
    compress: bool(r, 'compress') ?? false,
  }));
  const common = {
    type,
    tls: bool(raw, 'tls') ?? false,
    xForwarded: bool(raw, 'x_forwarded') ?? false,
    requestIdHeader: str(raw, 'request_id_header') ?? null,
    tag: str(raw, 'tag') ?? null,
    resources,
  } as const;
  const socket = str(raw, 'path');
  if (socket !== undefined) return { kind: 'unix', path: socket, mode: int(raw, 'mode') ?? 0o666, ...common };
  const port = int(raw, 'port');
  if (port === undefined) return undefined;
  const single = str(raw, 'bind_address');
  const bindAddresses = strings(raw['bind_addresses']) ?? (single ? [single] : [...DEFAULT_BIND_ADDRESSES]);
  return { kind: 'tcp', port, bindAddresses, ...common };
}

function listeners(raw: unknown): ListenerConfig[] {
  return (Array.isArray(raw) ? raw : []).map(normaliseListener).filter((l): l is ListenerConfig => l !== undefined);
}

function database(raw: Obj, options: NormaliseOptions): DatabaseConfig {
  const db = raw['database'];
  const defaultDataDir = path.join(options.baseDir, 'data', 'postgres');
  if (!isObj(db) || db['name'] === 'embedded' || (db['name'] !== 'psycopg2' && db['name'] !== 'postgres')) {
    const args = isObj(db) ? obj(db, 'args') : {};
    return { kind: 'embedded', dataDir: path.resolve(options.baseDir, str(args, 'data_dir') ?? defaultDataDir) };
  }
  const args = obj(db, 'args');
  const user = str(args, 'user') ?? options.osUser;
  const rawPort = args['port'];
  const port = typeof rawPort === 'string' && /^[0-9]+$/.test(rawPort) ? Number(rawPort) : (int(args, 'port') ?? 5432);
  const poolMin = int(args, 'cp_min') ?? 5;
  const sslModes = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
  const sslMode = sslModes.find((m) => m === args['sslmode']) ?? null;
  const out: PostgresDatabaseConfig = {
    kind: 'postgres',
    host: str(args, 'host') ?? 'localhost',
    port,
    user,
    database: str(args, 'database') ?? str(args, 'dbname') ?? user,
    poolMin,
    poolMax: int(args, 'cp_max') ?? Math.max(10, poolMin),
    sslMode,
    sslRootCert: str(args, 'sslrootcert') ?? null,
    sslCert: str(args, 'sslcert') ?? null,
    sslKey: str(args, 'sslkey') ?? null,
    applicationName: str(args, 'application_name') ?? null,
    allowUnsafeLocale: bool(db, 'allow_unsafe_locale') ?? false,
  };
  const password = typeof args['password'] === 'string' ? args['password'] : undefined;
  if (password !== undefined) out.password = password;
  return out;
}

function redis(raw: Obj): RedisConfig {
  const r = obj(raw, 'redis');
  return {
    enabled: bool(r, 'enabled') ?? false,
    host: str(r, 'host') ?? 'localhost',
    port: int(r, 'port') ?? 6379,
    path: str(r, 'path') ?? null,
    dbid: int(r, 'dbid') ?? null,
    password: typeof r['password'] === 'string' ? r['password'] : null,
    useTls: bool(r, 'use_tls') ?? false,
    certificateFile: str(r, 'certificate_file') ?? null,
    privateKeyFile: str(r, 'private_key_file') ?? null,
    caFile: str(r, 'ca_file') ?? null,
    caPath: str(r, 'ca_path') ?? null,
  };
}

export function normaliseInstanceLocation(raw: unknown): InstanceLocation | undefined {
  if (!isObj(raw)) return undefined;
  const socket = str(raw, 'path');
  if (socket !== undefined) return { kind: 'unix', path: socket };
  const host = str(raw, 'host');
  const port = int(raw, 'port');
  if (host === undefined || port === undefined) return undefined;
  return { kind: 'tcp', host, port, tls: bool(raw, 'tls') ?? false };
}

function instanceMap(raw: Obj): Record<string, InstanceLocation> {
  const out: Record<string, InstanceLocation> = {};
  for (const [name, value] of Object.entries(obj(raw, 'instance_map'))) {
    const loc = normaliseInstanceLocation(value);
    if (loc) out[normaliseInstanceName(name)] = loc;
  }
  // Deprecated worker-side keys still describe where main is, when instance_map does not.
  const legacyHost = str(raw, 'worker_replication_host');
  const legacyPort = int(raw, 'worker_replication_http_port');
  if (!(MAIN_INSTANCE in out) && legacyHost !== undefined && legacyPort !== undefined) {
    out[MAIN_INSTANCE] = { kind: 'tcp', host: legacyHost, port: legacyPort, tls: bool(raw, 'worker_replication_http_tls') ?? false };
  }
  return out;
}

function streamWriters(raw: Obj): Record<StreamName, string[]> {
  const sw = obj(raw, 'stream_writers');
  const out = {} as Record<StreamName, string[]>;
  for (const stream of STREAM_NAMES) {
    const v = sw[stream];
    const names = typeof v === 'string' && v !== '' ? [v] : (strings(v) ?? [MAIN_INSTANCE]);
    out[stream] = names.map(normaliseInstanceName);
  }
  return out;
}

const instanceList = (raw: Obj, key: string): string[] | null => strings(raw[key])?.map(normaliseInstanceName) ?? null;
const instanceName = (raw: Obj, key: string): string | null => {
  const v = str(raw, key);
  return v === undefined ? null : normaliseInstanceName(v);
};

function rate(raw: Obj, key: string, perSecond: number, burstCount: number): RateLimit {
  const r = obj(raw, key);
  return { perSecond: num(r, 'per_second') ?? perSecond, burstCount: num(r, 'burst_count') ?? burstCount };
}

function rateLimits(raw: Obj): RateLimits {
  const login = obj(raw, 'rc_login');
  const joins = obj(raw, 'rc_joins');
  const invites = obj(raw, 'rc_invites');
  const fed = obj(raw, 'rc_federation');
  const message = rate(raw, 'rc_message', 0.2, 10);
  return {
    message,
    registration: rate(raw, 'rc_registration', 0.17, 3),
    registrationTokenValidity: rate(raw, 'rc_registration_token_validity', 0.1, 5),
    login: {
      address: rate(login, 'address', 0.003, 5),
      account: rate(login, 'account', 0.03, 5),
      failedAttempts: rate(login, 'failed_attempts', 0.17, 3),
    },
    adminRedaction: isObj(raw['rc_admin_redaction']) ? rate(raw, 'rc_admin_redaction', message.perSecond, message.burstCount) : message,
    joins: { local: rate(joins, 'local', 0.1, 10), remote: rate(joins, 'remote', 0.01, 10) },
    joinsPerRoom: rate(raw, 'rc_joins_per_room', 1, 10),
    invites: {
      perRoom: rate(invites, 'per_room', 0.3, 10),
      perUser: rate(invites, 'per_user', 0.003, 5),
      perIssuer: rate(invites, 'per_issuer', 0.3, 10),
    },
    federation: {
      windowSize: int(fed, 'window_size') ?? 1000,
      sleepLimit: int(fed, 'sleep_limit') ?? 10,
      sleepDelay: int(fed, 'sleep_delay') ?? 500,
      rejectLimit: int(fed, 'reject_limit') ?? 50,
      concurrent: int(fed, 'concurrent') ?? 3,
    },
  };
}

/** Synapse's default `ip_range_blacklist`: private, loopback, link-local and documentation ranges. */
export const DEFAULT_IP_RANGE_BLACKLIST: readonly string[] = [
  '127.0.0.0/8',
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '100.64.0.0/10',
  '192.0.0.0/24',
  '169.254.0.0/16',
  '192.88.99.0/24',
  '198.18.0.0/15',
  '192.0.2.0/24',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '224.0.0.0/4',
  '::1/128',
  'fe80::/10',
  'fc00::/7',
  '2001:db8::/32',
  'ff00::/8',
  'fec0::/10',
];

function tryParse<T>(value: unknown, parse: (v: number | string) => T, fallback: T): T {
  if (typeof value !== 'number' && typeof value !== 'string') return fallback;
  try {
    return parse(value);
  } catch {
    return fallback;
  }
}

export function normaliseConfig(raw: Obj, options: NormaliseOptions): Config {
  const serverName = str(raw, 'server_name') ?? 'localhost';
  const baseurl = str(raw, 'public_baseurl') ?? `https://${serverName}/`;
  const resolve = (p: string | undefined): string | null => (p === undefined ? null : path.resolve(options.baseDir, p));
  const workerAppRaw = str(raw, 'worker_app');
  const canonicalApp = workerAppRaw === undefined ? undefined : canonicalWorkerApp(workerAppRaw);
  const roomVersion = raw['default_room_version'];
  const oldKeys = Object.entries(obj(raw, 'old_signing_keys'))
    .filter((e): e is [string, Obj] => isObj(e[1]))
    .map(([keyId, v]) => ({ keyId, key: str(v, 'key') ?? '', expiredTs: int(v, 'expired_ts') ?? 0 }));
  const trusted = Array.isArray(raw['trusted_key_servers'])
    ? raw['trusted_key_servers'].filter(isObj).map((s) => ({
        serverName: str(s, 'server_name') ?? '',
        verifyKeys: isObj(s['verify_keys']) ? (s['verify_keys'] as Record<string, string>) : null,
        acceptKeysInsecurely: bool(s, 'accept_keys_insecurely') ?? false,
      }))
    : [{ serverName: 'matrix.org', verifyKeys: null, acceptKeysInsecurely: false }];

  return {
    serverName,
    publicBaseurl: baseurl.endsWith('/') ? baseurl : `${baseurl}/`,
    serveServerWellknown: bool(raw, 'serve_server_wellknown') ?? false,
    extraWellKnownClientContent: isObj(raw['extra_well_known_client_content'])
      ? (raw['extra_well_known_client_content'] as JsonObject)
      : {},
    pidFile: resolve(str(raw, 'pid_file')),
    listeners: listeners(raw['listeners']),
    tlsCertificatePath: resolve(str(raw, 'tls_certificate_path')),
    tlsPrivateKeyPath: resolve(str(raw, 'tls_private_key_path')),
    database: database(raw, options),
    redis: redis(raw),
    logConfig: resolve(str(raw, 'log_config')),
    signingKeyPath: path.resolve(options.baseDir, str(raw, 'signing_key_path') ?? signingKeyFileName(serverName)),
    oldSigningKeys: oldKeys,
    keyRefreshIntervalMs: tryParse(raw['key_refresh_interval'], parseDuration, 86_400_000),
    trustedKeyServers: trusted,
    suppressKeyServerWarning: bool(raw, 'suppress_key_server_warning') ?? false,
    registrationSharedSecret: str(raw, 'registration_shared_secret') ?? null,
    registrationSharedSecretPath: resolve(str(raw, 'registration_shared_secret_path')),
    enableRegistration: bool(raw, 'enable_registration') ?? false,
    enableRegistrationWithoutVerification: bool(raw, 'enable_registration_without_verification') ?? false,
    registrationRequiresToken: bool(raw, 'registration_requires_token') ?? false,
    allowGuestAccess: bool(raw, 'allow_guest_access') ?? false,
    macaroonSecretKey: str(raw, 'macaroon_secret_key') ?? null,
    formSecret: str(raw, 'form_secret') ?? null,
    reportStats: bool(raw, 'report_stats') ?? false,
    enableMetrics: bool(raw, 'enable_metrics') ?? false,
    mediaStorePath: path.resolve(options.baseDir, str(raw, 'media_store_path') ?? 'media_store'),
    enableMediaRepo: bool(raw, 'enable_media_repo') ?? true,
    maxUploadSize: tryParse(raw['max_upload_size'], parseSize, 50 * 1024 * 1024),
    defaultRoomVersion:
      // The spec recommends version 12 for new rooms (Synapse still defaults to 10).
      typeof roomVersion === 'string' || typeof roomVersion === 'number' ? String(roomVersion) : '12',
    presence: { enabled: bool(obj(raw, 'presence'), 'enabled') ?? true },
    allowPublicRoomsOverFederation: bool(raw, 'allow_public_rooms_over_federation') ?? false,
    allowPublicRoomsWithoutAuth: bool(raw, 'allow_public_rooms_without_auth') ?? false,
    federationDomainWhitelist: strings(raw['federation_domain_whitelist']) ?? null,
    ipRangeBlacklist: strings(raw['ip_range_blacklist']) ?? [...DEFAULT_IP_RANGE_BLACKLIST],
    ipRangeWhitelist: strings(raw['ip_range_whitelist']) ?? [],
    appServiceConfigFiles: (strings(raw['app_service_config_files']) ?? []).map((f) => path.resolve(options.baseDir, f)),
    rateLimits: rateLimits(raw),

    workerReplicationSecret: str(raw, 'worker_replication_secret') ?? null,
    instanceMap: instanceMap(raw),
    streamWriters: streamWriters(raw),
    federationSenderInstances: instanceList(raw, 'federation_sender_instances'),
    pusherInstances: instanceList(raw, 'pusher_instances'),
    runBackgroundTasksOn: instanceName(raw, 'run_background_tasks_on') ?? MAIN_INSTANCE,
    updateUserDirectoryFromWorker: instanceName(raw, 'update_user_directory_from_worker'),
    notifyAppservicesFromWorker: instanceName(raw, 'notify_appservices_from_worker'),
    mediaInstanceRunningBackgroundJobs: instanceName(raw, 'media_instance_running_background_jobs'),
    sendFederation: bool(raw, 'send_federation') ?? null,
    startPushers: bool(raw, 'start_pushers') ?? null,
    notifyAppservices: bool(raw, 'notify_appservices') ?? null,
    updateUserDirectory: bool(raw, 'update_user_directory') ?? null,

    workerApp: canonicalApp === undefined || canonicalApp === 'synapse.app.homeserver' ? null : canonicalApp,
    workerName: str(raw, 'worker_name') ?? null,
    workerListeners: listeners(raw['worker_listeners']),
    workerLogConfig: resolve(str(raw, 'worker_log_config')),
    workerPidFile: resolve(str(raw, 'worker_pid_file')),
  };
}
