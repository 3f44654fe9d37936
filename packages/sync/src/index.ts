export * from './notifier.ts';
export * from './deps.ts';
export * from './endpoints.ts';
export * from './handlers.ts';
export * from './filter.ts';
export * from './presence-notify.ts';
export { SyncComputer, DEFAULT_TO_DEVICE_LIMIT, type SyncRequest, type SyncResult } from './compute-sync.ts';
export { LazyMembersCache } from './lazy-members.ts';
export { StreamChangeCache, SyncChangeCaches } from './stream-change-cache.ts';
