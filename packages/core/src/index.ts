export * from './json.ts';
export * from './errors.ts';
export * from './logger.ts';
export * from './stream-token.ts';
export * from './canonical-json.ts';
export * from './base64.ts';
export * from './canonical-json.ts';
export * from './base64.ts';
