/**
 * winston loggers in the two formats operators ask for: readable text on a terminal, one JSON object per
 * line for log shippers. Every line carries the instance name, so a fleet's logs can be merged.
 */
import winston from 'winston';
import type { Logger } from '@hs/core';
import { BatchingTransport, MESSAGE } from './batching-transport.ts';

export type LogFormat = 'text' | 'json';
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export interface LogOptions {
  readonly instance: string;
  readonly level?: LogLevel;
  readonly format?: LogFormat;
  /** Also append to this file (same format). */
  readonly file?: string;
}

/**
 * Local wall-clock text, `YYYY-MM-DD HH:mm:ss.SSS`: the part up to the second is built once a second
 * (a log line per request made the general-purpose date formatter a visible share of a busy server).
 */
export class LocalClockText {
  private second = -1;
  private prefix = '';

  format(ms: number): string {
    const second = Math.floor(ms / 1000);
    if (second !== this.second) {
      const d = new Date(second * 1000);
      const p2 = (n: number) => (n < 10 ? '0' : '') + n;
      this.prefix = `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}.`;
      this.second = second;
    }
    const milli = ms - second * 1000;
    return this.prefix + (milli < 10 ? '00' : milli < 100 ? '0' : '') + milli;
  }
}

function fieldText(v: unknown): string {
  return typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v);
}

const LEVEL_TEXT: Record<string, string> = { error: 'ERROR', warn: 'WARN ', info: 'INFO ', debug: 'DEBUG' };

const clock = new LocalClockText();
/** Readable lines: `time LEVEL [instance] message key=value …`. */
const textFormat = winston.format((info) => {
  const { level, message, instance, ...rest } = info as Record<string, unknown>;
  let extras = '';
  for (const k in rest) if (k !== 'splat') extras += ` ${k}=${fieldText(rest[k])}`;
  const levelText = LEVEL_TEXT[String(level)] ?? String(level).toUpperCase().padEnd(5);
  (info as Record<symbol, unknown>)[MESSAGE] = `${clock.format(Date.now())} ${levelText} [${String(instance)}] ${String(message)}${extras}`;
  return info;
});

export function createLogger(opts: LogOptions): Logger & winston.Logger {
  const format =
    opts.format === 'json'
      ? winston.format.combine(winston.format.timestamp(), winston.format.json())
      : textFormat();
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
