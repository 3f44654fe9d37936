/**
 * Replication metrics. Every component may be handed the process's prom-client Registry; metrics are
 * created once per registry (get-or-create) so the bus, follower and publisher can share it. Without a
 * registry the metrics still work but are not exported. Names follow Synapse's where one exists.
 */
import { Counter, Gauge, Registry } from 'prom-client';

export interface ReplicationMetrics {
  /** Synapse: synapse_replication_tcp_protocol_inbound_commands{command,name}. */
  readonly inboundCommands: Counter<'command' | 'name'>;
  readonly outboundCommands: Counter<'command' | 'name'>;
  /** Commands we could not send (bus down, encode failure): followers catch up from the source of truth. */
  readonly droppedCommands: Counter<'command' | 'reason'>;
  readonly malformedCommands: Counter<'name'>;
  readonly redisConnected: Gauge;
  /** Applied position per (stream, writer). */
  readonly streamPosition: Gauge<'stream' | 'writer'>;
  /** Highest position announced by the writer minus the position applied here. */
  readonly streamLag: Gauge<'stream' | 'writer'>;
  readonly catchUpFetches: Counter<'stream'>;
  readonly catchUpFailures: Counter<'stream'>;
}

const cache = new WeakMap<Registry, ReplicationMetrics>();

function build(registers: Registry[]): ReplicationMetrics {
  return {
    inboundCommands: new Counter({
      name: 'synapse_replication_tcp_protocol_inbound_commands_total',
      help: 'Replication commands received, by command and bus',
      labelNames: ['command', 'name'],
      registers,
    }),
    outboundCommands: new Counter({
      name: 'synapse_replication_tcp_protocol_outbound_commands_total',
      help: 'Replication commands sent, by command and bus',
      labelNames: ['command', 'name'],
      registers,
    }),
    droppedCommands: new Counter({
      name: 'synapse_replication_commands_dropped_total',
      help: 'Replication commands not sent, by command and reason',
      labelNames: ['command', 'reason'],
      registers,
    }),
    malformedCommands: new Counter({
      name: 'synapse_replication_malformed_commands_total',
      help: 'Replication lines received that did not parse',
      labelNames: ['name'],
      registers,
    }),
    redisConnected: new Gauge({
      name: 'synapse_replication_redis_connected',
      help: '1 while both Redis connections (publish and subscribe) are ready',
      registers,
    }),
    streamPosition: new Gauge({
      name: 'synapse_replication_stream_position',
      help: 'Position applied by this process, per stream and writer',
      labelNames: ['stream', 'writer'],
      registers,
    }),
    streamLag: new Gauge({
      name: 'synapse_replication_stream_lag',
      help: 'Writer position announced minus position applied by this process',
      labelNames: ['stream', 'writer'],
      registers,
    }),
    catchUpFetches: new Counter({
      name: 'synapse_replication_catchup_fetches_total',
      help: 'Out-of-band fetches of missed stream rows',
      labelNames: ['stream'],
      registers,
    }),
    catchUpFailures: new Counter({
      name: 'synapse_replication_catchup_failures_total',
      help: 'Failed fetches of missed stream rows (retried with backoff)',
      labelNames: ['stream'],
      registers,
    }),
  };
}

/** The replication metrics registered on `registry`, or unregistered ones when it is absent. */
export function replicationMetrics(registry?: Registry): ReplicationMetrics {
  if (registry === undefined) return build([]);
  let metrics = cache.get(registry);
  if (metrics === undefined) {
    metrics = build([registry]);
    cache.set(registry, metrics);
  }
  return metrics;
}
