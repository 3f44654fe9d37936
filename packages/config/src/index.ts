export { ConfigError } from './config-error.ts';
export * from './config-types.ts';
export type {
  RawConfig,
  RawListener,
  RawResource,
  RawResourceName,
  RawDatabase,
  RawEmbeddedArgs,
  RawPostgresArgs,
  RawRedis,
  RawInstanceLocation,
  RawRateLimit,
  RawStreamName,
} from './raw-config.ts';
export { loadConfig, type LoadedConfig } from './load-config.ts';
export { validateConfig, type ValidateOptions, type ValidatedConfig } from './validate-config.ts';
export { parseConfigText, readConfigFile, mergeConfigFiles, resolveRelativePaths } from './yaml-files.ts';
export type { ConfigFileValues, MergedConfig } from './yaml-files.ts';
export { expandEnvReferences, type EnvLookup } from './env-references.ts';
export { parseSize, parseDuration } from './units.ts';
export { canonicalWorkerApp, workerKindOf, KNOWN_WORKER_APPS, type WorkerKind } from './worker-app.ts';
export { processIdentity, mainReplicationLocation, type ProcessIdentity } from './duties.ts';
export { planRoles } from './role-plan.ts';
export type { RolePlan, PlannedListener, ListenerAddress, Shard, Duties } from './role-plan.ts';
export { describeRolePlan, describeLocation } from './describe-role-plan.ts';
export {
  generateSigningKey,
  signingKeyFromSeed,
  encodeSigningKeys,
  parseSigningKeys,
  readSigningKeyFile,
  writeSigningKeyFile,
  loadOrCreateSigningKeys,
  signingKeyFileName,
  unpaddedBase64,
  type SigningKey,
} from './signing-key.ts';
export { generateConfig, renderHomeserverYaml, type GenerateConfigOptions, type GeneratedConfig } from './generate-config.ts';
export { CONFIG_SCHEMAS } from './schema-validation.ts';
export { readOrCreateSecretFile } from './secret-file.ts';
