/**
 * `log_config` / `worker_log_config`: a YAML file. We read our own short form
 * (`level`, `format: text|json`, `file`) and, so that Synapse log configs carry over, the parts of a
 * Python logging dictConfig that map onto it (`root.level`, a file handler's `filename`).
 */
import fs from 'node:fs';
import { parse } from 'yaml';
import type { LogFormat, LogLevel, LogOptions } from '@hs/http';

const LEVELS: Record<string, LogLevel> = {
  critical: 'error',
  error: 'error',
  warning: 'warn',
  warn: 'warn',
  info: 'info',
  debug: 'debug',
};

export function readLogConfig(file: string | null, instance: string): LogOptions {
  if (!file) return { instance };
  let doc: unknown;
  try {
    doc = parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`log_config: cannot read ${file}: ${(e as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null) throw new Error(`log_config: ${file} is not a YAML mapping`);
  const d = doc as Record<string, unknown>;
  const root = (d.root ?? {}) as Record<string, unknown>;
  const levelText = String(d.level ?? root.level ?? 'info').toLowerCase();
  const level = LEVELS[levelText];
  if (!level) throw new Error(`log_config: level "${levelText}" in ${file} is not one of ${Object.keys(LEVELS).join(', ')}`);
  const format = String(d.format ?? 'text') as LogFormat;
  if (format !== 'text' && format !== 'json') throw new Error(`log_config: format "${format}" in ${file} must be text or json`);
  let logFile = typeof d.file === 'string' ? d.file : undefined;
  if (!logFile && typeof d.handlers === 'object' && d.handlers !== null) {
    for (const h of Object.values(d.handlers as Record<string, Record<string, unknown>>)) {
      if (typeof h?.filename === 'string') logFile = h.filename;
    }
  }
  return { instance, level, format, ...(logFile ? { file: logFile } : {}) };
}
