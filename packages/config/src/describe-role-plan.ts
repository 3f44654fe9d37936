/** The role plan as text, for `homeserver describe` and the first lines every process logs. */
import { STREAM_NAMES, type InstanceLocation } from './config-types.ts';
import type { ListenerAddress, PlannedListener, RolePlan, Shard } from './role-plan.ts';

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export function describeLocation(loc: InstanceLocation): string {
  return loc.kind === 'unix' ? `unix:${loc.path}` : `${loc.tls ? 'https' : 'http'}://${hostPort(loc.host, loc.port)}`;
}

function describeAddress(a: ListenerAddress): string {
  return a.kind === 'unix'
    ? `unix:${a.path} (mode ${a.mode.toString(8).padStart(4, '0')})`
    : a.bindAddresses.map((h) => hostPort(h, a.port)).join(', ');
}

function describeListener(l: PlannedListener): string {
  const implied = l.effectiveResources.filter((r) => !l.resources.includes(r));
  const flags = [l.tls ? 'tls' : '', l.xForwarded ? 'x_forwarded' : '', l.compressed.length ? `gzip: ${l.compressed.join(', ')}` : '']
    .filter(Boolean)
    .join('; ');
  const served = l.type === 'metrics' ? 'metrics' : `${l.resources.join(', ') || '(none)'}${implied.length ? ` (+ ${implied.join(', ')})` : ''}`;
  return `  ${l.type} ${describeAddress(l.address)}: ${served}${flags ? ` [${flags}]` : ''}  (${l.source})`;
}

function describeShard(s: Shard): string {
  return `shard ${s.index + 1} of ${s.count} (${s.instances.join(', ')})`;
}

function shardedDuty(on: boolean, shard: Shard | null, all: string[]): string {
  if (on) return shard && shard.count > 1 ? `yes, ${describeShard(shard)}` : 'yes';
  return all.length ? `no (${all.join(', ')})` : 'no (nobody is configured to)';
}

export function describeRolePlan(plan: RolePlan): string {
  const lines: string[] = [];
  const what = plan.isMain ? 'main process' : `${plan.workerKind} worker${plan.workerApp ? ` (${plan.workerApp})` : ''}`;
  lines.push(`instance: ${plan.instanceName} — ${what}`);
  lines.push(
    `replication: ${plan.replication.mode === 'redis' ? `Redis ${plan.replication.redis?.path ? `unix:${plan.replication.redis.path}` : hostPort(plan.replication.redis?.host ?? '', plan.replication.redis?.port ?? 0)}` : 'in-process (single process, no Redis)'}` +
      (plan.replication.mode === 'redis' ? `; HTTP replication ${plan.replication.secret ? 'authenticated by worker_replication_secret' : 'NOT authenticated'}` : ''),
  );
  lines.push(`listeners:${plan.listeners.length ? '' : ' none'}`);
  for (const l of plan.listeners) lines.push(describeListener(l));
  const writes = plan.writes.length === STREAM_NAMES.length ? `all (${plan.writes.join(', ')})` : plan.writes.join(', ') || 'none';
  lines.push(`writes streams: ${writes}`);
  if (plan.eventShard) lines.push(`event persister: ${describeShard(plan.eventShard)}, rooms sharded by hash`);
  const others = STREAM_NAMES.filter((s) => !plan.writes.includes(s)).map((s) => `${s} → ${plan.streamWriters[s].join(', ')}`);
  if (others.length) lines.push(`other writers: ${others.join('; ')}`);
  const d = plan.duties;
  const duties = [
    d.backgroundTasks && 'background tasks',
    d.userDirectory && 'user directory updates',
    d.appserviceNotifications && 'application service notifications',
    d.mediaRepository && 'media repository',
    d.mediaBackgroundJobs && 'media background jobs',
  ].filter(Boolean);
  lines.push(`duties: ${duties.join(', ') || 'none'}`);
  lines.push(`federation sending: ${shardedDuty(d.federationSending, plan.federationSenderShard, plan.federationSenders)}`);
  lines.push(`push notifications: ${shardedDuty(d.pushers, plan.pusherShard, plan.pusherInstances)}`);
  const locations = Object.entries(plan.instanceLocations);
  if (locations.length) {
    lines.push('HTTP replication addresses:');
    for (const [name, loc] of locations) lines.push(`  ${name} → ${describeLocation(loc)}`);
  }
  if (plan.workers.length) lines.push(`workers named in the configuration: ${plan.workers.join(', ')}`);
  return lines.join('\n');
}
