/**
 * winston loggers in the two formats operators ask for: readable text on a terminal, one JSON object per
 * line for log shippers. Every line carries the instance name, so a fleet's logs can be merged.
 */
import winston from 'winston';
import type { Logger } from '@hs/core';
import { BatchingTransport } from './batching-transport.ts';

export type LogFormat = 'text' | 'json';
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export interface LogOptions {
  readonly instance: string;
  readonly level?: LogLevel;
  readonly format?: LogFormat;
  /** Also append to this file (same format). */
  readonly file?: string;
}

function textLine(info: winston.Logform.TransformableInfo): string {
  const { level, message, timestamp, instance, ...rest } = info as Record<string, unknown>;
  const extras = Object.entries(rest)
    .filter(([k]) => typeof k === 'string' && k !== 'splat')
    .map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${String(timestamp)} ${String(level).toUpperCase().padEnd(5)} [${String(instance)}] ${String(message)}${extras ? ' ' + extras : ''}`;
}

export function createLogger(opts: LogOptions): Logger & winston.Logger {
  const format =
    opts.format === 'json'
      ? winston.format.combine(winston.format.timestamp(), winston.format.json())
      : winston.format.combine(winston.format.timestamp({ format: 'YYYY-MM-DD HH:mm:ss.SSS' }), winston.format.printf(textLine));
  // Batched writes: a line per request must not cost a system call per line (see BatchingTransport).
  const transports: winston.transport[] = [new BatchingTransport()];
  if (opts.file) transports.push(new BatchingTransport({ file: opts.file }));
  return winston.createLogger({
    level: process.env.HS_LOG_LEVEL ?? opts.level ?? 'info',
    defaultMeta: { instance: opts.instance },
    format,
    transports,
  });
}
