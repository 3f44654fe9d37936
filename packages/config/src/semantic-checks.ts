/**
 * Checks that span several keys, beyond what the JSON Schema can say: who writes which stream, whether
 * workers can reach each other, legacy-option conflicts (as Synapse reports them), and a few
 * combinations that would start but misbehave. Problems stop the process; warnings are logged.
 */
import {
  MAIN_INSTANCE,
  MULTI_WRITER_STREAMS,
  STREAM_NAMES,
  type Config,
  type ListenerConfig,
} from './config-types.ts';
import {
  appserviceDuty,
  hasResource,
  mainReplicationLocation,
  namedWorkers,
  processIdentity,
  userDirectoryDuty,
} from './duties.ts';
import { normaliseListener } from './normalise.ts';
import { showValue } from './schema-validation.ts';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface CheckOutcome {
  problems: string[];
  warnings: string[];
}

const bad = (path: string, value: unknown, expected: string): string =>
  `${path}: ${showValue(value)} is not valid: expected ${expected}`;
const missing = (path: string, expected: string): string => `${path}: is missing: expected ${expected}`;

function addressesOverlap(a: string[], b: string[]): boolean {
  const wild = (x: string) => x === '0.0.0.0' || x === '::';
  return a.some((x) => b.some((y) => x === y || wild(x) || wild(y)));
}

function checkListeners(key: 'listeners' | 'worker_listeners', rawList: unknown, config: Config, out: CheckOutcome): void {
  if (!Array.isArray(rawList)) return;
  const seen: { index: number; listener: ListenerConfig }[] = [];
  rawList.forEach((raw, i) => {
    const l = normaliseListener(raw);
    if (!l) return;
    const at = `${key}[${i}]`;
    if (l.type === 'manhole') {
      out.warnings.push(`${at}: manhole listeners are not supported; this one is not started`);
      return;
    }
    if (l.kind === 'unix') {
      if (l.type !== 'http') out.problems.push(bad(`${at}.type`, l.type, 'http (a unix socket listener serves http only)'));
      l.resources.forEach((r, j) => {
        if (r.names.includes('metrics')) {
          out.problems.push(bad(`${at}.resources[${j}].names`, r.names, 'no metrics resource on a unix socket listener'));
        }
      });
    }
    if (l.tls && (config.tlsCertificatePath === null || config.tlsPrivateKeyPath === null)) {
      out.problems.push(bad(`${at}.tls`, true, 'tls_certificate_path and tls_private_key_path to be set for a TLS listener'));
    }
    if (l.type === 'http' && l.resources.every((r) => r.names.length === 0)) {
      out.warnings.push(`${at}.resources: no resources listed; this listener serves only /health`);
    }
    for (const prev of seen) {
      const p = prev.listener;
      const clash =
        l.kind === 'tcp' && p.kind === 'tcp'
          ? l.port !== 0 && l.port === p.port && addressesOverlap(l.bindAddresses, p.bindAddresses)
          : l.kind === 'unix' && p.kind === 'unix' && l.path === p.path;
      if (clash) {
        const what = l.kind === 'tcp' ? `${at}.port` : `${at}.path`;
        out.problems.push(bad(what, l.kind === 'tcp' ? l.port : l.path, `an address not already used by ${key}[${prev.index}]`));
      }
    }
    seen.push({ index: i, listener: l });
  });
}

function checkDatabase(raw: Obj, config: Config, hasWorkers: boolean, out: CheckOutcome): void {
  if ('databases' in raw) {
    out.problems.push(
      bad('databases', raw['databases'], 'a single `database` section (splitting tables over several databases is not supported)'),
    );
  }
  const db = raw['database'];
  const args = isObj(db) && isObj(db['args']) ? db['args'] : {};
  if (config.database.kind === 'postgres') {
    if (typeof args['database'] === 'string' && typeof args['dbname'] === 'string') {
      out.problems.push(bad('database.args.dbname', args['dbname'], 'either database or dbname, not both'));
    }
    if (typeof args['cp_min'] === 'number' && typeof args['cp_max'] === 'number' && args['cp_min'] > args['cp_max']) {
      out.problems.push(bad('database.args.cp_min', args['cp_min'], `at most cp_max (${args['cp_max']})`));
    }
  } else if (hasWorkers) {
    out.warnings.push(
      'database: the embedded database is reachable only through a unix socket under its data_dir; every worker must run on the same host and read that directory — use a Postgres server (name: psycopg2) for workers on other hosts',
    );
  }
}

function checkRegistration(raw: Obj, config: Config, out: CheckOutcome): void {
  if (config.registrationSharedSecret !== null && config.registrationSharedSecretPath !== null) {
    out.problems.push(
      bad(
        'registration_shared_secret_path',
        raw['registration_shared_secret_path'],
        'either registration_shared_secret or registration_shared_secret_path, not both',
      ),
    );
  }
  if (config.enableRegistration && !config.enableRegistrationWithoutVerification && !config.registrationRequiresToken) {
    out.problems.push(
      bad(
        'enable_registration',
        true,
        'open registration to come with a check: set registration_requires_token: true, or enable_registration_without_verification: true if you accept the risk of spam accounts',
      ),
    );
  }
}

function checkStreamWriters(raw: Obj, config: Config, out: CheckOutcome): void {
  const rawWriters = isObj(raw['stream_writers']) ? raw['stream_writers'] : {};
  for (const stream of STREAM_NAMES) {
    const given = rawWriters[stream];
    if (given === undefined) continue;
    const names = config.streamWriters[stream];
    const at = `stream_writers.${stream}`;
    if (names.length === 0) {
      out.problems.push(bad(at, given, 'at least one instance'));
      continue;
    }
    if (!MULTI_WRITER_STREAMS.includes(stream) && names.length !== 1) {
      out.problems.push(bad(at, given, `exactly one instance (only ${MULTI_WRITER_STREAMS.join(', ')} may have several writers)`));
    }
    if (new Set(names).size !== names.length) out.problems.push(bad(at, given, 'each instance at most once'));
    names.forEach((name, i) => {
      if (name !== MAIN_INSTANCE && !(name in config.instanceMap)) {
        const path = Array.isArray(given) ? `${at}[${i}]` : at;
        out.problems.push(
          bad(path, name, 'an instance listed in instance_map (a stream writer must be reachable over HTTP replication)'),
        );
      }
    });
  }
}

function checkDutyNames(raw: Obj, config: Config, out: CheckOutcome): void {
  const remind = (path: string, name: string) => {
    if (name !== MAIN_INSTANCE && !(name in config.instanceMap)) {
      out.warnings.push(
        `${path}: ${showValue(name)} is not in instance_map; make sure a worker with this worker_name runs, or nobody does this duty`,
      );
    }
  };
  for (const key of ['federation_sender_instances', 'pusher_instances'] as const) {
    const list = key === 'federation_sender_instances' ? config.federationSenderInstances : config.pusherInstances;
    if (list === null) continue;
    if (new Set(list).size !== list.length) out.problems.push(bad(key, raw[key], 'each instance at most once'));
    list.forEach((name, i) => remind(`${key}[${i}]`, name));
  }
  const single = [
    ['run_background_tasks_on', config.runBackgroundTasksOn],
    ['update_user_directory_from_worker', config.updateUserDirectoryFromWorker],
    ['notify_appservices_from_worker', config.notifyAppservicesFromWorker],
    ['media_instance_running_background_jobs', config.mediaInstanceRunningBackgroundJobs],
  ] as const;
  for (const [key, name] of single) if (name !== null) remind(key, name);
}

function checkLegacyDuties(raw: Obj, config: Config, out: CheckOutcome): void {
  const self = processIdentity(config);
  const shardable = [
    ['federation_sender', 'send_federation', config.sendFederation, config.federationSenderInstances, 'federation_sender_instances'],
    ['pusher', 'start_pushers', config.startPushers, config.pusherInstances, 'pusher_instances'],
  ] as const;
  for (const [kind, legacyKey, legacy, list, modernKey] of shardable) {
    const listed = list !== null && list.length > 0;
    if (self.kind === kind && !listed && legacy !== false) {
      const expected = `false in the shared config when running a synapse.app.${kind} worker (or list the workers in ${modernKey})`;
      out.problems.push(legacy === null ? missing(legacyKey, expected) : bad(legacyKey, legacy, expected));
    }
    if (self.isMain && !listed && legacy === false) {
      out.warnings.push(`${legacyKey}: false: main does not do this; only a synapse.app.${kind} worker will (prefer ${modernKey})`);
    }
  }
  const single = [
    ['appservice', 'notify_appservices', config.notifyAppservices, 'notify_appservices_from_worker', appserviceDuty(config, self)],
    ['user_dir', 'update_user_directory', config.updateUserDirectory, 'update_user_directory_from_worker', userDirectoryDuty(config, self)],
  ] as const;
  for (const [kind, legacyKey, legacy, modernKey, decision] of single) {
    if (self.kind === kind && legacy !== false) {
      const expected = `false in the shared config when running a synapse.app.${kind} worker (better: a generic worker named in ${modernKey})`;
      out.problems.push(legacy === null ? missing(legacyKey, expected) : bad(legacyKey, legacy, expected));
    }
    if (decision.conflict) {
      out.problems.push(bad(modernKey, raw[modernKey], `agreement with the deprecated ${legacyKey} (remove ${legacyKey})`));
    }
  }
}

function checkWorkerIdentity(raw: Obj, config: Config, out: CheckOutcome): void {
  const app = raw['worker_app'];
  if (config.workerApp !== null && config.workerName === null) {
    out.problems.push(missing('worker_name', `a unique name for this worker (worker_app is ${showValue(app)})`));
  }
  if (config.workerApp !== null && (config.workerName === 'main' || config.workerName === 'master')) {
    out.problems.push(bad('worker_name', config.workerName, 'a name other than main and master, which mean the main process'));
  }
  if (config.workerApp === null && config.workerName !== null) {
    out.warnings.push(`worker_name: ${showValue(config.workerName)} is ignored without worker_app; this process runs as main`);
  }
  if ('worker_replication_port' in raw) {
    out.problems.push(
      bad('worker_replication_port', raw['worker_replication_port'], 'no such key: direct TCP replication was removed; processes replicate through Redis (redis.enabled: true)'),
    );
  }
  if (raw['worker_daemonize'] === true) out.warnings.push('worker_daemonize: not supported; run the worker under a process supervisor');
  if ('worker_manhole' in raw) out.warnings.push('worker_manhole: manhole listeners are not supported; ignored');
  const names = Object.keys(isObj(raw['instance_map']) ? raw['instance_map'] : {});
  if (names.includes('main') && names.includes('master')) {
    out.problems.push(bad('instance_map.master', 'master', 'only one of main and master (both name the main process)'));
  }
}

function checkTopology(raw: Obj, config: Config, out: CheckOutcome): void {
  const self = processIdentity(config);
  const workers = namedWorkers(config);
  const distributed = !self.isMain || workers.length > 0;
  if (distributed && !config.redis.enabled) {
    const who = self.isMain ? `this config names workers (${workers.join(', ')})` : `this process is the worker ${self.instanceName}`;
    const expected = `true: ${who}, and processes replicate through Redis`;
    const r = raw['redis'];
    out.problems.push(isObj(r) && 'enabled' in r ? bad('redis.enabled', r['enabled'], expected) : missing('redis.enabled', expected));
  }
  if (!self.isMain && mainReplicationLocation(config) === null) {
    out.problems.push(
      missing(
        'instance_map.main',
        "the main process's HTTP replication address ({host, port} or {path}) in the shared config, or a listener with the replication resource in the shared listeners",
      ),
    );
  }
  if (distributed && config.workerReplicationSecret === null) {
    out.warnings.push(
      'worker_replication_secret: not set, so HTTP replication between processes is not authenticated; keep replication listeners on internal addresses',
    );
  }
  if (self.isMain) {
    if (config.workerListeners.length > 0) out.warnings.push('worker_listeners: ignored by the main process, which uses listeners');
    if (!config.listeners.some((l) => l.type === 'http')) out.warnings.push('listeners: the main process has no http listener');
    if (workers.length > 0 && !(MAIN_INSTANCE in config.instanceMap) && !config.listeners.some((l) => hasResource(l, 'replication'))) {
      out.warnings.push('listeners: no listener has the replication resource, so workers cannot reach the main process');
    }
  } else {
    const mustServeReplication =
      self.instanceName in config.instanceMap || STREAM_NAMES.some((s) => config.streamWriters[s].includes(self.instanceName));
    if (mustServeReplication && !config.workerListeners.some((l) => hasResource(l, 'replication'))) {
      out.warnings.push(
        `worker_listeners: no listener has the replication resource, but ${self.instanceName} is in instance_map or writes a stream; other processes cannot reach it`,
      );
    }
    if (self.kind === 'media_repository' && !config.workerListeners.some((l) => hasResource(l, 'media') || hasResource(l, 'client') || hasResource(l, 'federation'))) {
      out.warnings.push('worker_listeners: a media_repository worker with no listener serving the media resource');
    }
  }
  const trustsMatrixOrg = config.trustedKeyServers.some((s) => s.serverName === 'matrix.org');
  if (trustsMatrixOrg && !config.suppressKeyServerWarning) {
    out.warnings.push(
      'trusted_key_servers: matrix.org is trusted to vouch for other servers\' signing keys; set trusted_key_servers explicitly (and suppress_key_server_warning: true) to silence this',
    );
  }
}

export function checkSemantics(raw: Obj, config: Config): CheckOutcome {
  const out: CheckOutcome = { problems: [], warnings: [] };
  const self = processIdentity(config);
  const hasWorkers = !self.isMain || namedWorkers(config).length > 0;
  checkWorkerIdentity(raw, config, out);
  checkListeners('listeners', raw['listeners'], config, out);
  checkListeners('worker_listeners', raw['worker_listeners'], config, out);
  checkDatabase(raw, config, hasWorkers, out);
  checkRegistration(raw, config, out);
  checkStreamWriters(raw, config, out);
  checkDutyNames(raw, config, out);
  checkLegacyDuties(raw, config, out);
  checkTopology(raw, config, out);
  return out;
}
