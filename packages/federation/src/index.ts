export * from './key-server.ts';
