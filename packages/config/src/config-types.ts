/**
 * The validated, normalised configuration: camelCase, every default applied, paths absolute,
 * sizes in bytes and durations in milliseconds. Produced by `validateConfig` / `loadConfig` from the
 * snake_case YAML described by `RawConfig` and schemas/config/.
 */
import type { JsonObject } from '@hs/core';
import type { RawResourceName, RawStreamName } from './raw-config.ts';

/** Streams whose writer can be moved off `main` with `stream_writers`. */
export const STREAM_NAMES = [
  'events',
  'typing',
  'to_device',
  'account_data',
  'receipts',
  'presence',
  'push_rules',
  'device_lists',
] as const satisfies readonly RawStreamName[];
export type StreamName = (typeof STREAM_NAMES)[number];

/** Streams that may have several writers (sharded); every other stream has exactly one. */
export const MULTI_WRITER_STREAMS: readonly StreamName[] = ['events'];

export const RESOURCE_NAMES = [
  'client',
  'federation',
  'keys',
  'media',
  'metrics',
  'health',
  'replication',
  'openid',
  'static',
  'consent',
  'admin',
] as const satisfies readonly RawResourceName[];
export type ResourceName = (typeof RESOURCE_NAMES)[number];

/** The name the main process goes by in stream_writers, instance_map and every duty option. */
export const MAIN_INSTANCE = 'main';

export interface ResourceGroup {
  names: ResourceName[];
  compress: boolean;
}

interface ListenerCommon {
  type: 'http' | 'metrics' | 'manhole';
  tls: boolean;
  xForwarded: boolean;
  requestIdHeader: string | null;
  tag: string | null;
  resources: ResourceGroup[];
}

export interface TcpListenerConfig extends ListenerCommon {
  kind: 'tcp';
  port: number;
  /** Default, as Synapse: every interface, `['::', '0.0.0.0']`. */
  bindAddresses: string[];
}

export interface UnixListenerConfig extends ListenerCommon {
  kind: 'unix';
  path: string;
  /** Socket file permissions; default 0o666. */
  mode: number;
}

export type ListenerConfig = TcpListenerConfig | UnixListenerConfig;

export interface EmbeddedDatabaseConfig {
  kind: 'embedded';
  /** Absolute; the embedded Postgres keeps its cluster and socket under here. */
  dataDir: string;
}

export interface PostgresDatabaseConfig {
  kind: 'postgres';
  /** A host name or IP address, or (starting with `/`) the directory holding the server's unix socket. */
  host: string;
  port: number;
  user: string;
  password?: string;
  database: string;
  poolMin: number;
  poolMax: number;
  sslMode: 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full' | null;
  sslRootCert: string | null;
  sslCert: string | null;
  sslKey: string | null;
  applicationName: string | null;
  allowUnsafeLocale: boolean;
}

export type DatabaseConfig = EmbeddedDatabaseConfig | PostgresDatabaseConfig;

export interface RedisConfig {
  enabled: boolean;
  host: string;
  port: number;
  /** Unix socket path; when set, host and port are not used. */
  path: string | null;
  dbid: number | null;
  password: string | null;
  useTls: boolean;
  certificateFile: string | null;
  privateKeyFile: string | null;
  caFile: string | null;
  caPath: string | null;
}

/** Where a process serves HTTP replication (`instance_map` entries). */
export type InstanceLocation =
  | { kind: 'tcp'; host: string; port: number; tls: boolean }
  | { kind: 'unix'; path: string };

export interface RateLimit {
  perSecond: number;
  burstCount: number;
}

export interface RateLimits {
  message: RateLimit;
  registration: RateLimit;
  registrationTokenValidity: RateLimit;
  login: { address: RateLimit; account: RateLimit; failedAttempts: RateLimit };
  /** Falls back to `message` when not configured, as in Synapse. */
  adminRedaction: RateLimit;
  joins: { local: RateLimit; remote: RateLimit };
  joinsPerRoom: RateLimit;
  invites: { perRoom: RateLimit; perUser: RateLimit; perIssuer: RateLimit };
  federation: { windowSize: number; sleepLimit: number; sleepDelay: number; rejectLimit: number; concurrent: number };
}

export interface TrustedKeyServer {
  serverName: string;
  verifyKeys: Record<string, string> | null;
  acceptKeysInsecurely: boolean;
}

export interface OldSigningKey {
  keyId: string;
  key: string;
  expiredTs: number;
}

export interface Config {
  serverName: string;
  /** Always ends with `/`. Default `https://<server_name>/`. */
  publicBaseurl: string;
  serveServerWellknown: boolean;
  extraWellKnownClientContent: JsonObject;
  pidFile: string | null;
  /** The main process's listeners (`listeners`). */
  listeners: ListenerConfig[];
  tlsCertificatePath: string | null;
  tlsPrivateKeyPath: string | null;
  database: DatabaseConfig;
  redis: RedisConfig;
  logConfig: string | null;
  signingKeyPath: string;
  oldSigningKeys: OldSigningKey[];
  keyRefreshIntervalMs: number;
  trustedKeyServers: TrustedKeyServer[];
  suppressKeyServerWarning: boolean;
  registrationSharedSecret: string | null;
  registrationSharedSecretPath: string | null;
  enableRegistration: boolean;
  enableRegistrationWithoutVerification: boolean;
  registrationRequiresToken: boolean;
  allowGuestAccess: boolean;
  macaroonSecretKey: string | null;
  formSecret: string | null;
  reportStats: boolean;
  enableMetrics: boolean;
  mediaStorePath: string;
  enableMediaRepo: boolean;
  /** Bytes. */
  maxUploadSize: number;
  defaultRoomVersion: string;
  presence: { enabled: boolean };
  allowPublicRoomsOverFederation: boolean;
  allowPublicRoomsWithoutAuth: boolean;
  /** null: federate with everyone. */
  federationDomainWhitelist: string[] | null;
  ipRangeBlacklist: string[];
  ipRangeWhitelist: string[];
  appServiceConfigFiles: string[];
  rateLimits: RateLimits;

  // Coordinating workers (the shared part). Instance names are normalised: `master` becomes `main`.
  workerReplicationSecret: string | null;
  /** As configured (plus `main` from the deprecated worker_replication_* keys, if given). */
  instanceMap: Record<string, InstanceLocation>;
  /** Every stream, default `['main']`. */
  streamWriters: Record<StreamName, string[]>;
  /** null when the key is absent. */
  federationSenderInstances: string[] | null;
  pusherInstances: string[] | null;
  runBackgroundTasksOn: string;
  updateUserDirectoryFromWorker: string | null;
  notifyAppservicesFromWorker: string | null;
  mediaInstanceRunningBackgroundJobs: string | null;
  /** Deprecated duty switches; null when absent. */
  sendFederation: boolean | null;
  startPushers: boolean | null;
  notifyAppservices: boolean | null;
  updateUserDirectory: boolean | null;

  // Individual worker configuration.
  /** Canonical `synapse.app.*` name; null for the main process (including `synapse.app.homeserver`). */
  workerApp: string | null;
  workerName: string | null;
  workerListeners: ListenerConfig[];
  workerLogConfig: string | null;
  workerPidFile: string | null;
}
