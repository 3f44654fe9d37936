export * from './deps.ts';
export * from './endpoints.ts';
export * from './e2ee.ts';
export * from './readers.ts';
export * from './device-lists.ts';
export * from './device-list-changes.ts';
export * from './to-device.ts';
export { getOneTimeKeyCounts, getUnusedFallbackKeyTypes, SIGNED_CURVE25519 } from './one-time-keys.ts';
export { shouldReplaceRoomKey, type KeyBackupData } from './key-backup.ts';
