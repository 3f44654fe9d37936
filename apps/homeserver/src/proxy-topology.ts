/**
 * The topology `homeserver routes` prints configuration for: main's config plus one file per worker,
 * each read exactly as that worker would read it (`-c homeserver.yaml -c worker.yaml`).
 */
import { loadConfig, planRoles, type PlannedListener, type RolePlan } from '@hs/config';
import { WRITER_ROUTED_STREAMS, type ProxyTopology, type ProxyWorker, type WorkerKind } from '@hs/http';

const PUBLIC_RESOURCES = new Set(['client', 'federation', 'media', 'keys']);
const WILDCARDS = new Set(['::', '0.0.0.0', '*']);

/**
 * Where the proxy reaches a process: its first TCP listener with a public resource. A specific bind
 * address is used as is; a wildcard bind means "any interface", so the host comes from the instance's
 * `instance_map` entry (how other processes reach it — a container's service name, say), else loopback.
 */
function publicAddress(plan: RolePlan, mainPlan: RolePlan): string | undefined {
  const l: PlannedListener | undefined = plan.listeners.find(
    (x) => x.type === 'http' && x.address.kind === 'tcp' && x.resources.some((r) => PUBLIC_RESOURCES.has(r)),
  );
  if (!l || l.address.kind !== 'tcp') return undefined;
  const mapped = mainPlan.instanceLocations[plan.instanceName];
  const host = l.address.bindAddresses.find((h) => !WILDCARDS.has(h)) ?? (mapped?.kind === 'tcp' ? mapped.host : '127.0.0.1');
  return `${host.includes(':') ? `[${host}]` : host}:${l.address.port}`;
}

function proxyKind(plan: RolePlan): WorkerKind {
  const k = plan.workerKind;
  return k === 'appservice' || k === 'user_dir' ? 'generic_worker' : k;
}

export interface LoadedProxyTopology {
  readonly topology: ProxyTopology;
  /** Things the operator probably wants to know: routes that could not go where the config suggests. */
  readonly warnings: readonly string[];
}

export async function loadProxyTopology(mainFiles: string[], workerFiles: string[]): Promise<LoadedProxyTopology> {
  const main = planRoles((await loadConfig(mainFiles)).config);
  if (!main.isMain) throw new Error('routes: the -c files must be the main process configuration (no worker_app)');
  const mainAddress = publicAddress(main, main);
  if (!mainAddress) throw new Error('routes: main has no http listener with client or federation resources');
  const workers: ProxyWorker[] = [];
  const given = new Set<string>();
  const warnings: string[] = [];
  for (const file of workerFiles) {
    const plan = planRoles((await loadConfig([...mainFiles, file])).config);
    if (plan.isMain) throw new Error(`routes: ${file} sets no worker_app; pass main's configuration with -c and only workers' files with -w`);
    if (given.has(plan.instanceName)) throw new Error(`routes: two -w files name the worker "${plan.instanceName}"`);
    given.add(plan.instanceName);
    const address = publicAddress(plan, main);
    // A worker without a public listener (e.g. a federation sender or a pure event persister) takes no proxy traffic.
    if (address) workers.push({ name: plan.instanceName, kind: proxyKind(plan), address });
  }
  for (const stream of WRITER_ROUTED_STREAMS) {
    const writer = main.streamWriters[stream as keyof typeof main.streamWriters]?.[0];
    if (!writer || writer === 'main') continue;
    if (!given.has(writer)) warnings.push(`${stream} is written by ${writer}, but no -w file describes it: its endpoints go to the worker pool`);
    else if (!workers.some((w) => w.name === writer))
      warnings.push(`${stream} is written by ${writer}, which has no client listener: its endpoints go to the worker pool, which forwards them`);
  }
  return { topology: { main: mainAddress, workers, streamWriters: main.streamWriters }, warnings };
}
