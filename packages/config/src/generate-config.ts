/**
 * `homeserver generate-config`: a commented homeserver.yaml for a single-process install with the
 * embedded database, plus its signing key. Paths inside the data directory are written relative to the
 * config file, so the directory can be moved as a whole.
 */
import { randomBytes } from 'node:crypto';
import { access, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from './config-error.ts';
import { generateSigningKey, signingKeyFileName, writeSigningKeyFile } from './signing-key.ts';
import { validateConfig } from './validate-config.ts';
import { parseConfigText } from './yaml-files.ts';

export interface GenerateConfigOptions {
  /** Default `localhost:8008`. */
  serverName?: string;
  /** Where the database, media and signing key go. */
  dataDir: string;
  /** Client + federation port. Default 8008. */
  port?: number;
  /** Default `['127.0.0.1']`. */
  bindAddresses?: string[];
  /** Port of the loopback-only metrics/health listener; null for none. Default 9000 (or port + 1 if that clashes). */
  metricsPort?: number | null;
  /** Default `<dataDir>/homeserver.yaml`. */
  configPath?: string;
  /** Replace an existing config file. Default false. */
  overwrite?: boolean;
}

export interface GeneratedConfig {
  configPath: string;
  signingKeyPath: string;
  mediaStorePath: string;
  databaseDir: string;
  /** False when a signing key file already existed and was kept. */
  signingKeyCreated: boolean;
}

const q = (s: string): string => JSON.stringify(s);
const secret = (): string => randomBytes(32).toString('base64url');

function baseUrlFor(serverName: string, port: number): string {
  const host = serverName.replace(/:[0-9]+$/, '');
  const loopback = host === 'localhost' || host === '127.0.0.1' || host === '[::1]';
  return loopback ? `http://${host}:${port}/` : `https://${serverName}/`;
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

export function renderHomeserverYaml(o: {
  serverName: string;
  publicBaseurl: string;
  port: number;
  bindAddresses: string[];
  metricsPort: number | null;
  databaseDir: string;
  mediaStorePath: string;
  signingKeyPath: string;
  registrationSharedSecret: string;
  macaroonSecretKey: string;
  formSecret: string;
}): string {
  const list = (xs: string[]) => `[${xs.map(q).join(', ')}]`;
  const metrics =
    o.metricsPort === null
      ? ''
      : `
  # Prometheus metrics (/_synapse/metrics) and /health, on loopback only: never expose metrics publicly.
  - port: ${o.metricsPort}
    type: http
    bind_addresses: ['127.0.0.1']
    resources:
      - names: [metrics, health]
`;
  return `# Homeserver configuration (Synapse-compatible keys). Every key is described in docs/configuration.md.
# Relative paths below are resolved against the directory of this file.

# The public name of this server: the part after the colon in @user:${o.serverName}.
# It cannot be changed once users and rooms exist.
server_name: ${q(o.serverName)}

# The URL clients use to reach this server (through your reverse proxy, if you use one).
public_baseurl: ${q(o.publicBaseurl)}

# Where the server listens. The first listener serves the client-server and server-server APIs;
# put a TLS-terminating reverse proxy in front of it (and set x_forwarded: true) for production.
listeners:
  - port: ${o.port}
    type: http
    bind_addresses: ${list(o.bindAddresses)}
    x_forwarded: false
    resources:
      - names: [client, federation]
        compress: false
${metrics}
# The database. "embedded" runs a private PostgreSQL under data_dir, started and stopped with the
# server. For a PostgreSQL server you run yourself, use Synapse's form instead:
#   database:
#     name: psycopg2
#     args: {user: synapse, password: secret, database: synapse, host: localhost, port: 5432, cp_min: 5, cp_max: 10}
database:
  name: embedded
  args:
    data_dir: ${q(o.databaseDir)}

# Uploaded and cached remote media.
media_store_path: ${q(o.mediaStorePath)}
# Largest upload accepted (K, M or G suffix). Your reverse proxy may need the same limit.
max_upload_size: "50M"

# The server's ed25519 signing key (Synapse's file format). Back it up: other servers remember it.
signing_key_path: ${q(o.signingKeyPath)}

# Lets \`homeserver register-user\` (and Synapse's register_new_matrix_user) create accounts,
# including admins. Keep it secret.
registration_shared_secret: ${q(o.registrationSharedSecret)}
# Signs guest and login tokens.
macaroon_secret_key: ${q(o.macaroonSecretKey)}
# Protects form values (consent forms) against tampering.
form_secret: ${q(o.formSecret)}

# Open registration is off; accounts are created with the shared secret above or the admin API.
enable_registration: false

# Room version for new rooms (the spec recommends 12).
default_room_version: "12"

# Servers trusted to vouch for other servers' signing keys when those cannot be fetched directly.
trusted_key_servers:
  - server_name: "matrix.org"
suppress_key_server_warning: true

# Accepted for compatibility with Synapse; this server never reports usage statistics.
report_stats: false

# Logging configuration file (YAML); without one, logs go to standard output.
#log_config: "log.yaml"

# To scale out with workers: enable Redis, add a listener with the \`replication\` resource on an
# internal address, set a worker_replication_secret, and name the workers' duties, e.g.
#redis:
#  enabled: true
#  host: localhost
#  port: 6379
#worker_replication_secret: "${secret()}"
#instance_map:
#  main: {host: localhost, port: 9093}
#  event_persister1: {host: localhost, port: 9094}
#stream_writers:
#  events: event_persister1
#federation_sender_instances: [federation_sender1]
# Note: the embedded database is reachable only through a unix socket under data_dir, so workers
# must run on the same host; use a PostgreSQL server for workers on other hosts.
`;
}

export async function generateConfig(options: GenerateConfigOptions): Promise<GeneratedConfig> {
  const serverName = options.serverName ?? 'localhost:8008';
  const port = options.port ?? 8008;
  const dataDir = path.resolve(options.dataDir);
  const configPath = path.resolve(options.configPath ?? path.join(dataDir, 'homeserver.yaml'));
  const configDir = path.dirname(configPath);
  const metricsPort = options.metricsPort === undefined ? (port === 9000 ? port + 1 : 9000) : options.metricsPort;

  const databaseDir = path.join(dataDir, 'postgres');
  const mediaStorePath = path.join(dataDir, 'media_store');
  const signingKeyPath = path.join(dataDir, signingKeyFileName(serverName));
  // Inside the config file's directory: write relative paths so the directory can move.
  const rel = (p: string) => {
    const r = path.relative(configDir, p);
    return r && !r.startsWith('..') && !path.isAbsolute(r) ? r : p;
  };

  const text = renderHomeserverYaml({
    serverName,
    publicBaseurl: baseUrlFor(serverName, port),
    port,
    bindAddresses: options.bindAddresses ?? ['127.0.0.1'],
    metricsPort,
    databaseDir: rel(databaseDir),
    mediaStorePath: rel(mediaStorePath),
    signingKeyPath: rel(signingKeyPath),
    registrationSharedSecret: secret(),
    macaroonSecretKey: secret(),
    formSecret: secret(),
  });
  // Never write a file the server would then refuse (e.g. an invalid server name from the command line).
  validateConfig(parseConfigText(text, configPath), { baseDir: configDir });

  if (!options.overwrite && (await exists(configPath))) {
    throw new ConfigError([`${configPath}: already exists; not overwriting it`]);
  }
  await mkdir(configDir, { recursive: true });
  await mkdir(dataDir, { recursive: true });
  await mkdir(mediaStorePath, { recursive: true });
  let signingKeyCreated = false;
  if (!(await exists(signingKeyPath))) {
    await writeSigningKeyFile(signingKeyPath, [await generateSigningKey()]);
    signingKeyCreated = true;
  }
  await writeFile(configPath, text, { mode: 0o600, flag: options.overwrite ? 'w' : 'wx' });
  return { configPath, signingKeyPath, mediaStorePath, databaseDir, signingKeyCreated };
}
