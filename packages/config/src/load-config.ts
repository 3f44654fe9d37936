/**
 * `homeserver start -c homeserver.yaml -c worker.yaml`: read every file, merge them in order, validate.
 */
import path from 'node:path';
import { ConfigError } from './config-error.ts';
import type { Config } from './config-types.ts';
import type { EnvLookup } from './env-references.ts';
import { validateConfig } from './validate-config.ts';
import { mergeConfigFiles, readConfigFile, type ConfigFileValues } from './yaml-files.ts';

export interface LoadedConfig {
  config: Config;
  warnings: string[];
  /** Absolute paths, in the order given. */
  files: string[];
  /** For each top-level key, the file whose value won the merge. */
  origins: Record<string, string>;
  /** The merged mapping before normalisation (paths already absolute). */
  raw: Record<string, unknown>;
}

export async function loadConfig(paths: string[], env: EnvLookup = process.env): Promise<LoadedConfig> {
  if (paths.length === 0) {
    throw new ConfigError(['no configuration file given: expected at least one -c <file>']);
  }
  const read: ConfigFileValues[] = [];
  const problems: string[] = [];
  for (const p of paths) {
    try {
      read.push(await readConfigFile(p));
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      problems.push(...e.problems);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems, 'Cannot read the configuration:');
  const merged = mergeConfigFiles(read);
  const files = read.map((f) => f.file);
  const baseDir = path.dirname(files[0] ?? path.resolve('.'));
  const { config, warnings } = validateConfig(merged.values, { baseDir, env, sources: files });
  return { config, warnings, files, origins: merged.origins, raw: merged.values };
}
