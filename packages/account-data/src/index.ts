export * from './deps.ts';
export * from './endpoints.ts';
export * from './handlers.ts';
export * from './account-data-store.ts';
export * from './filters.ts';
export * from './capabilities.ts';
export * from './openid.ts';
export * from './reports.ts';
