export * from './manifest.ts';
export * from './handler.ts';
export * from './app.ts';
export * from './metrics.ts';
export * from './logging.ts';
export * from './builtin-endpoints.ts';
export * from './listen.ts';
export * from './reverse-proxy.ts';
