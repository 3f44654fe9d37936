/**
 * Who does what, decided from the shared config exactly as Synapse decides it, including its legacy
 * switches (`send_federation: false` + a `synapse.app.federation_sender` worker, and so on). Used both
 * by the cross-key checks and by the role plan, so the two can never disagree.
 */
import { MAIN_INSTANCE, STREAM_NAMES, type Config, type InstanceLocation, type ListenerConfig } from './config-types.ts';
import { workerKindOf, type WorkerKind } from './worker-app.ts';

export interface ProcessIdentity {
  /** `main`, or the worker's worker_name. */
  instanceName: string;
  kind: WorkerKind;
  isMain: boolean;
}

export function processIdentity(config: Config): ProcessIdentity {
  if (config.workerApp !== null && config.workerName !== null) {
    return { instanceName: config.workerName, kind: workerKindOf(config.workerApp), isMain: false };
  }
  return { instanceName: MAIN_INSTANCE, kind: 'main', isMain: true };
}

/**
 * Instances sharing a shardable duty (federation sending, pushers): the modern list when it is non-empty;
 * otherwise `main` unless the legacy switch turned it off, in which case a worker of the legacy app kind
 * takes the duty alone.
 */
function dutyInstances(list: string[] | null, legacySwitch: boolean | null, legacyKind: WorkerKind, self: ProcessIdentity): string[] {
  if (list !== null && list.length > 0) return list;
  if (legacySwitch !== false) return [MAIN_INSTANCE];
  return self.kind === legacyKind ? [self.instanceName] : [];
}

export function federationSenders(config: Config, self: ProcessIdentity): string[] {
  return dutyInstances(config.federationSenderInstances, config.sendFederation, 'federation_sender', self);
}

export function pushers(config: Config, self: ProcessIdentity): string[] {
  return dutyInstances(config.pusherInstances, config.startPushers, 'pusher', self);
}

export interface DutyDecision {
  runsHere: boolean;
  /** The modern option and the legacy switch disagree about this process. */
  conflict: boolean;
}

/** A duty for exactly one process (user directory, appservice notification), modern option or legacy switch. */
function singleDuty(designated: string | null, legacySwitch: boolean | null, legacyKind: WorkerKind, self: ProcessIdentity): DutyDecision {
  const modern = designated === null ? null : designated === self.instanceName;
  const legacy = legacySwitch === null ? null : (self.isMain && legacySwitch) || (self.kind === legacyKind && !legacySwitch);
  if (modern === null && legacy === null) return { runsHere: self.isMain, conflict: false };
  if (modern !== null && legacy !== null && modern !== legacy) return { runsHere: modern, conflict: true };
  return { runsHere: Boolean(modern ?? legacy), conflict: false };
}

export function userDirectoryDuty(config: Config, self: ProcessIdentity): DutyDecision {
  return singleDuty(config.updateUserDirectoryFromWorker, config.updateUserDirectory, 'user_dir', self);
}

export function appserviceDuty(config: Config, self: ProcessIdentity): DutyDecision {
  return singleDuty(config.notifyAppservicesFromWorker, config.notifyAppservices, 'appservice', self);
}

/** Resources that carry /_matrix/media (client and federation imply media, as in Synapse). */
const MEDIA_CARRIERS = ['media', 'client', 'federation'];

/**
 * Whether this process loads the media repository: a media_repository worker always does; otherwise
 * only with enable_media_repo (default true), and a worker only if one of its listeners serves media.
 */
export function servesMediaRepository(config: Config, self: ProcessIdentity): boolean {
  if (self.kind === 'media_repository') return true;
  if (!config.enableMediaRepo) return false;
  return self.isMain || config.workerListeners.some((l) => MEDIA_CARRIERS.some((name) => hasResource(l, name)));
}

/**
 * Media housekeeping runs on `media_instance_running_background_jobs`; when unset, on main if main has
 * the media repository, else on the media_repository worker (with several of those, name one).
 */
export function runsMediaBackgroundJobs(config: Config, self: ProcessIdentity): boolean {
  if (config.mediaInstanceRunningBackgroundJobs !== null) return config.mediaInstanceRunningBackgroundJobs === self.instanceName;
  return self.isMain ? config.enableMediaRepo : self.kind === 'media_repository' && !config.enableMediaRepo;
}

export function hasResource(listener: ListenerConfig, name: string): boolean {
  return listener.type === 'http' && listener.resources.some((r) => (r.names as string[]).includes(name));
}

const WILDCARDS = new Set(['0.0.0.0', '::', '']);

/** The address other processes use for a listener: a wildcard bind means "reach it on loopback". */
export function listenerLocation(listener: ListenerConfig): InstanceLocation {
  if (listener.kind === 'unix') return { kind: 'unix', path: listener.path };
  const specific = listener.bindAddresses.filter((a) => !WILDCARDS.has(a));
  const host = specific.find((a) => !a.includes(':')) ?? specific[0] ?? '127.0.0.1';
  return { kind: 'tcp', host, port: listener.port, tls: listener.tls };
}

/** Main's HTTP replication address: instance_map.main, else its first listener with `replication`. */
export function mainReplicationLocation(config: Config): InstanceLocation | null {
  const configured = config.instanceMap[MAIN_INSTANCE];
  if (configured) return configured;
  const listener = config.listeners.find((l) => hasResource(l, 'replication'));
  return listener ? listenerLocation(listener) : null;
}

/** Every instance other than main that the shared config names, in first-mention order. */
export function namedWorkers(config: Config): string[] {
  const names: string[] = [
    ...Object.keys(config.instanceMap),
    ...STREAM_NAMES.flatMap((s) => config.streamWriters[s]),
    ...(config.federationSenderInstances ?? []),
    ...(config.pusherInstances ?? []),
    config.runBackgroundTasksOn,
    ...[config.updateUserDirectoryFromWorker, config.notifyAppservicesFromWorker, config.mediaInstanceRunningBackgroundJobs].filter(
      (n): n is string => n !== null,
    ),
  ];
  return [...new Set(names)].filter((n) => n !== MAIN_INSTANCE);
}
