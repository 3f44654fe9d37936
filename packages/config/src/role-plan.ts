/**
 * The role plan (DESIGN.md §2): from the merged shared + worker config, what this process is and does —
 * its listeners and resources, the streams it writes, its background duties and shards, how it
 * replicates, and where every instance serves HTTP replication. Pure: the same config always gives
 * the same plan, on every process, which is what lets processes agree without talking.
 */
import {
  MAIN_INSTANCE,
  STREAM_NAMES,
  type Config,
  type InstanceLocation,
  type ListenerConfig,
  type RedisConfig,
  type ResourceName,
  type StreamName,
} from './config-types.ts';
import {
  appserviceDuty,
  federationSenders,
  mainReplicationLocation,
  namedWorkers,
  processIdentity,
  pushers,
  runsMediaBackgroundJobs,
  servesMediaRepository,
  userDirectoryDuty,
} from './duties.ts';
import type { WorkerKind } from './worker-app.ts';

/** This process's slice of a sharded duty: it owns keys whose hash modulo `count` equals `index`. */
export interface Shard {
  index: number;
  count: number;
  /** All instances sharing the duty, in configured order (the order is part of the sharding). */
  instances: string[];
}

export type ListenerAddress =
  | { kind: 'tcp'; port: number; bindAddresses: string[] }
  | { kind: 'unix'; path: string; mode: number };

export interface PlannedListener {
  /** Where it is configured, e.g. `listeners[0]` or `worker_listeners[1]`. */
  source: string;
  address: ListenerAddress;
  type: 'http' | 'metrics';
  tls: boolean;
  xForwarded: boolean;
  requestIdHeader: string | null;
  tag: string | null;
  /** As configured. */
  resources: ResourceName[];
  /** What it actually serves: configured resources plus those they imply, and `health` on every http listener. */
  effectiveResources: ResourceName[];
  /** Resources whose responses are gzip-compressed. */
  compressed: ResourceName[];
}

export interface Duties {
  /** Periodic clean-ups and background database updates (run_background_tasks_on). */
  backgroundTasks: boolean;
  userDirectory: boolean;
  appserviceNotifications: boolean;
  /** Loads the media repository (serves /_matrix/media when a listener has the media resource). */
  mediaRepository: boolean;
  mediaBackgroundJobs: boolean;
  federationSending: boolean;
  pushers: boolean;
}

export interface RolePlan {
  instanceName: string;
  isMain: boolean;
  workerKind: WorkerKind;
  /** Canonical `synapse.app.*` name, or null for main. */
  workerApp: string | null;
  listeners: PlannedListener[];
  /** Streams this process writes (an `events` writer also writes `backfill`). */
  writes: StreamName[];
  /** Every stream's writers, for routing writes to the right process. */
  streamWriters: Record<StreamName, string[]>;
  /** This process's share of the rooms when it is one of the events writers. */
  eventShard: Shard | null;
  duties: Duties;
  federationSenders: string[];
  federationSenderShard: Shard | null;
  pusherInstances: string[];
  pusherShard: Shard | null;
  replication: {
    mode: 'in-process' | 'redis';
    redis: RedisConfig | null;
    secret: string | null;
  };
  /** HTTP replication address of each instance: instance_map, with `main` filled in from its replication listener. */
  instanceLocations: Record<string, InstanceLocation>;
  /** Every instance other than main that the configuration names (plus this one, if a worker). */
  workers: string[];
}

/** Resources that Synapse serves along with another (DESIGN adds `admin` to `client`, as Synapse's client does). */
const IMPLIED: Partial<Record<ResourceName, ResourceName[]>> = {
  client: ['media', 'static', 'admin'],
  federation: ['media', 'keys', 'openid'],
};

function unique<T>(items: Iterable<T>): T[] {
  return [...new Set(items)];
}

function planListener(l: ListenerConfig, source: string): PlannedListener | undefined {
  if (l.type === 'manhole') return undefined;
  const address: ListenerAddress =
    l.kind === 'tcp'
      ? { kind: 'tcp', port: l.port, bindAddresses: [...l.bindAddresses] }
      : { kind: 'unix', path: l.path, mode: l.mode };
  const resources = unique(l.resources.flatMap((r) => r.names));
  const effective =
    l.type === 'metrics' ? ['metrics' as const] : unique([...resources, ...resources.flatMap((r) => IMPLIED[r] ?? []), 'health' as const]);
  return {
    source,
    address,
    type: l.type,
    tls: l.tls,
    xForwarded: l.xForwarded,
    requestIdHeader: l.requestIdHeader,
    tag: l.tag,
    resources,
    effectiveResources: effective,
    compressed: unique(l.resources.filter((r) => r.compress).flatMap((r) => r.names)),
  };
}

function shardOf(instances: string[], name: string): Shard | null {
  const index = instances.indexOf(name);
  return index < 0 ? null : { index, count: instances.length, instances: [...instances] };
}

export function planRoles(config: Config): RolePlan {
  const self = processIdentity(config);
  const [key, list] = self.isMain ? ['listeners', config.listeners] : ['worker_listeners', config.workerListeners];
  const listeners = list
    .map((l, i) => planListener(l, `${key}[${i}]`))
    .filter((l): l is PlannedListener => l !== undefined);

  const streamWriters = Object.fromEntries(STREAM_NAMES.map((s) => [s, [...config.streamWriters[s]]])) as Record<StreamName, string[]>;
  const writes = STREAM_NAMES.filter((s) => streamWriters[s].includes(self.instanceName));
  const senders = federationSenders(config, self);
  const pusherList = pushers(config, self);

  const instanceLocations: Record<string, InstanceLocation> = { ...config.instanceMap };
  const main = mainReplicationLocation(config);
  if (main && !(MAIN_INSTANCE in instanceLocations)) instanceLocations[MAIN_INSTANCE] = main;

  const workers = namedWorkers(config);
  if (!self.isMain && !workers.includes(self.instanceName)) workers.push(self.instanceName);

  return {
    instanceName: self.instanceName,
    isMain: self.isMain,
    workerKind: self.kind,
    workerApp: self.isMain ? null : config.workerApp,
    listeners,
    writes,
    streamWriters,
    eventShard: streamWriters.events.length > 1 ? shardOf(streamWriters.events, self.instanceName) : null,
    duties: {
      backgroundTasks: config.runBackgroundTasksOn === self.instanceName,
      userDirectory: userDirectoryDuty(config, self).runsHere,
      appserviceNotifications: appserviceDuty(config, self).runsHere,
      mediaRepository: servesMediaRepository(config, self),
      mediaBackgroundJobs: runsMediaBackgroundJobs(config, self),
      federationSending: senders.includes(self.instanceName),
      pushers: pusherList.includes(self.instanceName),
    },
    federationSenders: senders,
    federationSenderShard: shardOf(senders, self.instanceName),
    pusherInstances: pusherList,
    pusherShard: shardOf(pusherList, self.instanceName),
    replication: {
      mode: config.redis.enabled ? 'redis' : 'in-process',
      redis: config.redis.enabled ? config.redis : null,
      secret: config.workerReplicationSecret,
    },
    instanceLocations,
    workers,
  };
}
