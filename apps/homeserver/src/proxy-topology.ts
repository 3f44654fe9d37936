/**
 * The topology `homeserver routes` prints configuration for: main's config plus one file per worker,
 * each read exactly as that worker would read it (`-c homeserver.yaml -c worker.yaml`).
 */
import { loadConfig, planRoles, type PlannedListener, type RolePlan } from '@hs/config';
import type { ProxyTopology, ProxyWorker, WorkerKind } from '@hs/http';

const PUBLIC_RESOURCES = new Set(['client', 'federation', 'media', 'keys']);

function publicAddress(plan: RolePlan): string | undefined {
  const l: PlannedListener | undefined = plan.listeners.find(
    (x) => x.type === 'http' && x.address.kind === 'tcp' && x.resources.some((r) => PUBLIC_RESOURCES.has(r)),
  );
  if (!l || l.address.kind !== 'tcp') return undefined;
  const host = l.address.bindAddresses.find((h) => h !== '::' && h !== '0.0.0.0') ?? '127.0.0.1';
  return `${host.includes(':') ? `[${host}]` : host}:${l.address.port}`;
}

function proxyKind(plan: RolePlan): WorkerKind {
  const k = plan.workerKind;
  return k === 'appservice' || k === 'user_dir' ? 'generic_worker' : k;
}

export async function loadProxyTopology(mainFiles: string[], workerFiles: string[]): Promise<ProxyTopology> {
  const main = planRoles((await loadConfig(mainFiles)).config);
  if (!main.isMain) throw new Error('routes: the -c files must be the main process configuration (no worker_app)');
  const mainAddress = publicAddress(main);
  if (!mainAddress) throw new Error('routes: main has no http listener with client or federation resources');
  const workers: ProxyWorker[] = [];
  for (const file of workerFiles) {
    const plan = planRoles((await loadConfig([...mainFiles, file])).config);
    const address = publicAddress(plan);
    // A worker without a public listener (e.g. a federation sender or a pure event persister) takes no proxy traffic.
    if (address) workers.push({ name: plan.instanceName, kind: proxyKind(plan), address });
  }
  return { main: mainAddress, workers, streamWriters: main.streamWriters };
}
