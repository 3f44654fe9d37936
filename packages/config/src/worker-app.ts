/**
 * `worker_app` values. Synapse still accepts its historical app names; most of them are plain generic
 * workers today, while a few keep a legacy duty (see `duties.ts`). Short forms drop `synapse.app.`.
 */

/** What a process is, once historical names are folded in. */
export type WorkerKind =
  | 'main'
  | 'generic_worker'
  | 'federation_sender'
  | 'pusher'
  | 'media_repository'
  | 'appservice'
  | 'user_dir';

const KIND_BY_APP: Record<string, WorkerKind> = {
  'synapse.app.homeserver': 'main',
  'synapse.app.generic_worker': 'generic_worker',
  'synapse.app.federation_sender': 'federation_sender',
  'synapse.app.pusher': 'pusher',
  'synapse.app.media_repository': 'media_repository',
  'synapse.app.appservice': 'appservice',
  'synapse.app.user_dir': 'user_dir',
  // Historical apps that are exactly a generic worker now.
  'synapse.app.client_reader': 'generic_worker',
  'synapse.app.event_creator': 'generic_worker',
  'synapse.app.federation_reader': 'generic_worker',
  'synapse.app.frontend_proxy': 'generic_worker',
  'synapse.app.synchrotron': 'generic_worker',
};

/** The canonical `synapse.app.*` name for a configured value, or undefined if unknown. */
export function canonicalWorkerApp(value: string): string | undefined {
  if (value === 'main') return 'synapse.app.homeserver';
  const full = value.startsWith('synapse.app.') ? value : `synapse.app.${value}`;
  return full in KIND_BY_APP ? full : undefined;
}

/** The kind of process a canonical worker_app (or null, the main process) runs. */
export function workerKindOf(canonicalApp: string | null): WorkerKind {
  if (canonicalApp === null) return 'main';
  return KIND_BY_APP[canonicalApp] ?? 'generic_worker';
}

export const KNOWN_WORKER_APPS: readonly string[] = Object.keys(KIND_BY_APP);
