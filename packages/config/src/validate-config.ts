/**
 * One merged configuration mapping → a validated `Config`, or a ConfigError listing every problem:
 * schema problems and cross-key problems together, so one run shows everything to fix.
 */
import os from 'node:os';
import { ConfigError } from './config-error.ts';
import type { Config } from './config-types.ts';
import { expandEnvReferences, hasEnvReferences, type EnvLookup } from './env-references.ts';
import { normaliseConfig } from './normalise.ts';
import { checkAgainstSchema, showValue } from './schema-validation.ts';
import { checkSemantics } from './semantic-checks.ts';
import { resolveRelativePaths } from './yaml-files.ts';

export interface ValidateOptions {
  /** Relative paths and default locations are resolved against this directory. Default: the working directory. */
  baseDir?: string;
  /** Environment for `${NAME}` references in worker_name. Default: none (references fail). */
  env?: EnvLookup;
  /** libpq's default Postgres user. Default: the OS user running the process. */
  osUser?: string;
  /** Names of the files the mapping came from, for the error header. */
  sources?: readonly string[];
}

export interface ValidatedConfig {
  config: Config;
  /** Unknown keys, deprecated keys and risky combinations: worth logging, not fatal. */
  warnings: string[];
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `key: ~` (or an empty value) means "use the default", as in Synapse where it reads as None. */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (!isMapping(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== null && v !== undefined) out[k] = withoutNulls(v);
  return out;
}

function pathOf(problem: string): string {
  const i = problem.indexOf(': ');
  return i < 0 ? problem : problem.slice(0, i);
}

function defaultOsUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return 'postgres';
  }
}

export function validateConfig(raw: unknown, options: ValidateOptions = {}): ValidatedConfig {
  const header = (n: number) =>
    `Invalid configuration${options.sources?.length ? ` (${options.sources.join(', ')})` : ''}: ${n} problem${n === 1 ? '' : 's'}:`;
  if (!isMapping(raw)) {
    throw new ConfigError([`(top level): ${showValue(raw)} is not valid: expected a mapping of configuration keys`], header(1));
  }
  const baseDir = options.baseDir ?? process.cwd();
  const values = withoutNulls(raw) as Record<string, unknown>;
  const early: string[] = [];

  const workerName = values['worker_name'];
  if (typeof workerName === 'string' && hasEnvReferences(workerName)) {
    const { value, missing } = expandEnvReferences(workerName, options.env ?? {});
    if (missing.length > 0) {
      early.push(
        `worker_name: ${showValue(workerName)} is not valid: expected the environment variable${missing.length > 1 ? 's' : ''} ${missing.join(', ')} to be set`,
      );
    } else {
      values['worker_name'] = value;
    }
  }

  const resolved = resolveRelativePaths(values, baseDir);
  const schema = checkAgainstSchema(resolved);
  const config = normaliseConfig(resolved, { baseDir, osUser: options.osUser ?? defaultOsUser() });
  const semantic = checkSemantics(resolved, config);

  const problems = [...early, ...schema.problems];
  const reported = new Set(problems.map(pathOf));
  for (const p of semantic.problems) if (!reported.has(pathOf(p))) problems.push(p);
  if (problems.length > 0) throw new ConfigError(problems, header(problems.length));
  return { config, warnings: [...schema.warnings, ...semantic.warnings] };
}
