export * from './connection-settings.ts';
export * from './database.ts';
export * from './embedded-postgres.ts';
export * from './migrations.ts';
export * from './pipelined-transaction.ts';
export * from './stream-writer.ts';
export * from './stream-positions.ts';
