/**
 * Reading configuration files: YAML 1.1 like Synapse's PyYAML (so `yes`/`no` are booleans and `0666` is
 * octal), relative paths resolved against the directory of the file that holds them, and several files
 * merged like `synapse -c a.yaml -c b.yaml` — later files' top-level keys replace earlier ones.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import YAML from 'yaml';
import { ConfigError } from './config-error.ts';

export interface ConfigFileValues {
  file: string;
  values: Record<string, unknown>;
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describeKind(v: unknown): string {
  if (v === null) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  return `a ${typeof v}`;
}

/** Parses one file's text; `file` names it in errors. */
export function parseConfigText(text: string, file: string): Record<string, unknown> {
  const lines = new YAML.LineCounter();
  const doc = YAML.parseDocument(text, { version: '1.1', prettyErrors: false, uniqueKeys: true, lineCounter: lines });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const pos = lines.linePos(e.pos[0]);
        return `${file}:${pos.line}:${pos.col}: YAML syntax error: ${e.message.split('\n')[0] ?? e.message}`;
      }),
      `Cannot parse configuration file ${file}:`,
    );
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 1000 });
  } catch (e) {
    throw new ConfigError([`${file}: ${(e as Error).message}`], `Cannot parse configuration file ${file}:`);
  }
  if (value === null || value === undefined) return {};
  if (!isMapping(value)) {
    throw new ConfigError(
      [`${file}:1:1: expected a mapping of configuration keys at the top level, found ${describeKind(value)}`],
      `Cannot parse configuration file ${file}:`,
    );
  }
  return value;
}

export async function readConfigFile(file: string): Promise<ConfigFileValues> {
  const absolute = path.resolve(file);
  let text: string;
  try {
    text = await readFile(absolute, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const reason =
      err.code === 'ENOENT'
        ? 'no such file'
        : err.code === 'EACCES'
          ? 'permission denied'
          : err.code === 'EISDIR'
            ? 'it is a directory'
            : err.message;
    throw new ConfigError([`${absolute}: cannot read configuration file: ${reason}`]);
  }
  const values = parseConfigText(text, absolute);
  return { file: absolute, values: resolveRelativePaths(values, path.dirname(absolute)) };
}

const TOP_LEVEL_PATHS = [
  'signing_key_path',
  'media_store_path',
  'log_config',
  'worker_log_config',
  'registration_shared_secret_path',
  'pid_file',
  'worker_pid_file',
  'tls_certificate_path',
  'tls_private_key_path',
];
const DATABASE_ARG_PATHS = ['data_dir', 'sslrootcert', 'sslcert', 'sslkey'];
const REDIS_PATHS = ['path', 'certificate_file', 'private_key_file', 'ca_file', 'ca_path'];

function resolveIn(obj: Record<string, unknown>, key: string, dir: string): void {
  const v = obj[key];
  if (typeof v === 'string' && v !== '' && !path.isAbsolute(v)) obj[key] = path.resolve(dir, v);
}

/**
 * Makes every path-valued key absolute against `dir` (the directory of the file it came from). Values of
 * the wrong type are left alone for the validator to report. Returns a copy.
 */
export function resolveRelativePaths(values: Record<string, unknown>, dir: string): Record<string, unknown> {
  const out: Record<string, unknown> = structuredClone(values);
  for (const key of TOP_LEVEL_PATHS) resolveIn(out, key, dir);
  const files = out['app_service_config_files'];
  if (Array.isArray(files)) {
    out['app_service_config_files'] = files.map((f) =>
      typeof f === 'string' && f !== '' && !path.isAbsolute(f) ? path.resolve(dir, f) : f,
    );
  }
  const db = out['database'];
  if (isMapping(db) && isMapping(db['args'])) for (const key of DATABASE_ARG_PATHS) resolveIn(db['args'], key, dir);
  const redis = out['redis'];
  if (isMapping(redis)) for (const key of REDIS_PATHS) resolveIn(redis, key, dir);
  for (const listKey of ['listeners', 'worker_listeners']) {
    const list = out[listKey];
    if (Array.isArray(list)) for (const l of list) if (isMapping(l)) resolveIn(l, 'path', dir);
  }
  const map = out['instance_map'];
  if (isMapping(map)) for (const loc of Object.values(map)) if (isMapping(loc)) resolveIn(loc, 'path', dir);
  return out;
}

export interface MergedConfig {
  values: Record<string, unknown>;
  /** For each top-level key, the file whose value won. */
  origins: Record<string, string>;
}

/** Later files' top-level keys replace earlier ones (no deep merge), as in Synapse. */
export function mergeConfigFiles(files: readonly ConfigFileValues[]): MergedConfig {
  const values: Record<string, unknown> = {};
  const origins: Record<string, string> = {};
  for (const f of files) {
    for (const [key, value] of Object.entries(f.values)) {
      values[key] = value;
      origins[key] = f.file;
    }
  }
  return { values, origins };
}
