/**
 * The configuration exactly as written in YAML (Synapse's snake_case keys), mirroring
 * schemas/config/*.schema.json. Everything is optional here; `normaliseConfig` applies defaults.
 * The key lists below are checked against the schema files by the tests, so the two cannot drift.
 */
import type { JsonObject } from '@hs/core';

export type RawResourceName =
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

export interface RawResource {
  names: RawResourceName[];
  compress?: boolean;
}

export interface RawListener {
  port?: number;
  path?: string;
  mode?: number;
  bind_addresses?: string[];
  bind_address?: string;
  type?: 'http' | 'metrics' | 'manhole';
  tls?: boolean;
  x_forwarded?: boolean;
  request_id_header?: string;
  tag?: string;
  resources?: RawResource[];
}

export interface RawEmbeddedArgs {
  data_dir?: string;
}

export interface RawPostgresArgs {
  user?: string;
  password?: string;
  database?: string;
  dbname?: string;
  host?: string;
  port?: number | string;
  cp_min?: number;
  cp_max?: number;
  sslmode?: 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';
  sslrootcert?: string;
  sslcert?: string;
  sslkey?: string;
  application_name?: string;
}

export interface RawDatabase {
  name: 'psycopg2' | 'postgres' | 'embedded';
  txn_limit?: number;
  allow_unsafe_locale?: boolean;
  args?: RawEmbeddedArgs | RawPostgresArgs;
}

export interface RawRedis {
  enabled?: boolean;
  host?: string;
  port?: number;
  path?: string;
  dbid?: number;
  password?: string;
  use_tls?: boolean;
  certificate_file?: string;
  private_key_file?: string;
  ca_file?: string;
  ca_path?: string;
}

export interface RawInstanceLocation {
  host?: string;
  port?: number;
  tls?: boolean;
  path?: string;
}

export interface RawRateLimit {
  per_second?: number;
  burst_count?: number;
}

export type RawStreamName =
  | 'events'
  | 'typing'
  | 'to_device'
  | 'account_data'
  | 'receipts'
  | 'presence'
  | 'push_rules'
  | 'device_lists';

export interface RawConfig {
  server_name: string;
  public_baseurl?: string;
  serve_server_wellknown?: boolean;
  extra_well_known_client_content?: JsonObject;
  pid_file?: string;
  listeners?: RawListener[];
  tls_certificate_path?: string;
  tls_private_key_path?: string;
  database?: RawDatabase;
  databases?: JsonObject;
  redis?: RawRedis;
  log_config?: string;
  signing_key_path?: string;
  old_signing_keys?: Record<string, { key: string; expired_ts: number }>;
  key_refresh_interval?: number | string;
  trusted_key_servers?: { server_name: string; verify_keys?: Record<string, string>; accept_keys_insecurely?: boolean }[];
  suppress_key_server_warning?: boolean;
  registration_shared_secret?: string;
  registration_shared_secret_path?: string;
  enable_registration?: boolean;
  enable_registration_without_verification?: boolean;
  registration_requires_token?: boolean;
  allow_guest_access?: boolean;
  macaroon_secret_key?: string;
  form_secret?: string;
  report_stats?: boolean;
  enable_metrics?: boolean;
  media_store_path?: string;
  enable_media_repo?: boolean;
  max_upload_size?: number | string;
  default_room_version?: string | number;
  presence?: { enabled?: boolean };
  allow_public_rooms_over_federation?: boolean;
  allow_public_rooms_without_auth?: boolean;
  federation_domain_whitelist?: string[];
  ip_range_blacklist?: string[];
  ip_range_whitelist?: string[];
  app_service_config_files?: string[];
  rc_message?: RawRateLimit;
  rc_registration?: RawRateLimit;
  rc_registration_token_validity?: RawRateLimit;
  rc_login?: { address?: RawRateLimit; account?: RawRateLimit; failed_attempts?: RawRateLimit };
  rc_admin_redaction?: RawRateLimit;
  rc_joins?: { local?: RawRateLimit; remote?: RawRateLimit };
  rc_joins_per_room?: RawRateLimit;
  rc_invites?: { per_room?: RawRateLimit; per_user?: RawRateLimit; per_issuer?: RawRateLimit };
  rc_federation?: {
    window_size?: number;
    sleep_limit?: number;
    sleep_delay?: number;
    reject_limit?: number;
    concurrent?: number;
  };
  // Coordinating workers (shared configuration).
  worker_replication_secret?: string;
  instance_map?: Record<string, RawInstanceLocation>;
  stream_writers?: Partial<Record<RawStreamName, string | string[]>>;
  federation_sender_instances?: string[];
  pusher_instances?: string[];
  run_background_tasks_on?: string;
  update_user_directory_from_worker?: string;
  notify_appservices_from_worker?: string;
  media_instance_running_background_jobs?: string;
  send_federation?: boolean;
  start_pushers?: boolean;
  notify_appservices?: boolean;
  update_user_directory?: boolean;
  // Individual worker configuration.
  worker_app?: string;
  worker_name?: string;
  worker_listeners?: RawListener[];
  worker_log_config?: string;
  worker_pid_file?: string;
  worker_daemonize?: boolean;
  worker_manhole?: number;
  worker_replication_host?: string;
  worker_replication_http_port?: number;
  worker_replication_http_tls?: boolean;
  worker_replication_port?: number;
  worker_main_http_uri?: string;
}

/** Fails to compile unless T is `never`: used to prove that a key list below names every key of its type. */
type AssertNever<T extends never> = T;

export const RAW_CONFIG_KEYS = [
  'server_name',
  'public_baseurl',
  'serve_server_wellknown',
  'extra_well_known_client_content',
  'pid_file',
  'listeners',
  'tls_certificate_path',
  'tls_private_key_path',
  'database',
  'databases',
  'redis',
  'log_config',
  'signing_key_path',
  'old_signing_keys',
  'key_refresh_interval',
  'trusted_key_servers',
  'suppress_key_server_warning',
  'registration_shared_secret',
  'registration_shared_secret_path',
  'enable_registration',
  'enable_registration_without_verification',
  'registration_requires_token',
  'allow_guest_access',
  'macaroon_secret_key',
  'form_secret',
  'report_stats',
  'enable_metrics',
  'media_store_path',
  'enable_media_repo',
  'max_upload_size',
  'default_room_version',
  'presence',
  'allow_public_rooms_over_federation',
  'allow_public_rooms_without_auth',
  'federation_domain_whitelist',
  'ip_range_blacklist',
  'ip_range_whitelist',
  'app_service_config_files',
  'rc_message',
  'rc_registration',
  'rc_registration_token_validity',
  'rc_login',
  'rc_admin_redaction',
  'rc_joins',
  'rc_joins_per_room',
  'rc_invites',
  'rc_federation',
  'worker_replication_secret',
  'instance_map',
  'stream_writers',
  'federation_sender_instances',
  'pusher_instances',
  'run_background_tasks_on',
  'update_user_directory_from_worker',
  'notify_appservices_from_worker',
  'media_instance_running_background_jobs',
  'send_federation',
  'start_pushers',
  'notify_appservices',
  'update_user_directory',
  'worker_app',
  'worker_name',
  'worker_listeners',
  'worker_log_config',
  'worker_pid_file',
  'worker_daemonize',
  'worker_manhole',
  'worker_replication_host',
  'worker_replication_http_port',
  'worker_replication_http_tls',
  'worker_replication_port',
  'worker_main_http_uri',
] as const satisfies readonly (keyof RawConfig)[];
type _AllRawConfigKeys = AssertNever<Exclude<keyof RawConfig, (typeof RAW_CONFIG_KEYS)[number]>>;

export const RAW_LISTENER_KEYS = [
  'port',
  'path',
  'mode',
  'bind_addresses',
  'bind_address',
  'type',
  'tls',
  'x_forwarded',
  'request_id_header',
  'tag',
  'resources',
] as const satisfies readonly (keyof RawListener)[];
type _AllRawListenerKeys = AssertNever<Exclude<keyof RawListener, (typeof RAW_LISTENER_KEYS)[number]>>;

export const RAW_REDIS_KEYS = [
  'enabled',
  'host',
  'port',
  'path',
  'dbid',
  'password',
  'use_tls',
  'certificate_file',
  'private_key_file',
  'ca_file',
  'ca_path',
] as const satisfies readonly (keyof RawRedis)[];
type _AllRawRedisKeys = AssertNever<Exclude<keyof RawRedis, (typeof RAW_REDIS_KEYS)[number]>>;

export const RAW_DATABASE_KEYS = ['name', 'txn_limit', 'allow_unsafe_locale', 'args'] as const satisfies readonly (keyof RawDatabase)[];
type _AllRawDatabaseKeys = AssertNever<Exclude<keyof RawDatabase, (typeof RAW_DATABASE_KEYS)[number]>>;
export const RAW_EMBEDDED_ARGS_KEYS = ['data_dir'] as const satisfies readonly (keyof RawEmbeddedArgs)[];
type _AllRawEmbeddedArgsKeys = AssertNever<Exclude<keyof RawEmbeddedArgs, (typeof RAW_EMBEDDED_ARGS_KEYS)[number]>>;
export const RAW_POSTGRES_ARGS_KEYS = [
  'user',
  'password',
  'database',
  'dbname',
  'host',
  'port',
  'cp_min',
  'cp_max',
  'sslmode',
  'sslrootcert',
  'sslcert',
  'sslkey',
  'application_name',
] as const satisfies readonly (keyof RawPostgresArgs)[];
type _AllRawPostgresArgsKeys = AssertNever<Exclude<keyof RawPostgresArgs, (typeof RAW_POSTGRES_ARGS_KEYS)[number]>>;
export const RAW_INSTANCE_LOCATION_KEYS = ['host', 'port', 'tls', 'path'] as const satisfies readonly (keyof RawInstanceLocation)[];
type _AllRawInstanceLocationKeys = AssertNever<Exclude<keyof RawInstanceLocation, (typeof RAW_INSTANCE_LOCATION_KEYS)[number]>>;
