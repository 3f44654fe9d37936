#!/usr/bin/env node
/**
 * `homeserver <command>`: start | worker | generate-config | describe | routes.
 * Every failure an operator can cause ends in a clear message and exit code 1, never a stack trace.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, describeRolePlan, generateConfig, loadConfig, planRoles } from '@hs/config';
import { planProxy, renderHaproxy, renderNginx, renderProxyJson } from '@hs/http';
import { integerOption, parseArgs, single, UsageError, type ParsedArgs } from './args.ts';
import { createManifest } from './endpoints.ts';
import { startHomeserverProcess } from './homeserver-process.ts';
import { loadProxyTopology } from './proxy-topology.ts';
import { registerUser } from './register-user.ts';

const USAGE = `usage: homeserver <command> [options]

commands:
  start [-c FILE]...        run the main process. Without -c, uses ./data/homeserver.yaml and creates it
                            (with an embedded database) on first run. Options for that first run:
                            --data-dir DIR (./data), --server-name NAME (localhost:8008), --port N (8008),
                            --metrics-port N (9000; 0 for none)
  worker -c FILE -c FILE    run a worker: the shared homeserver.yaml, then the worker's own file
  generate-config           write a new homeserver.yaml: --data-dir, --server-name, --port, --metrics-port,
                            --config-path, --force (overwrite)
  register-user -c FILE --user NAME (--password PW | --password-stdin) [--admin] [--url URL]
                            create an account on the running server with the shared secret
  describe -c FILE...       print the role plan of the process these files configure
  routes -c FILE [-w FILE]  print reverse-proxy configuration for main (-c) and its workers (-w, repeated)
                            --format nginx|haproxy|json (nginx), --listen PORT|HOST:PORT (8080)
`;

const DEFAULT_DATA_DIR = './data';

function firstRunOptions(args: ParsedArgs) {
  const dataDir = path.resolve(single(args, 'data-dir') ?? DEFAULT_DATA_DIR);
  const serverName = single(args, 'server-name');
  const port = integerOption(args, 'port', 1, 65535);
  const metricsPort = integerOption(args, 'metrics-port', 0, 65535);
  return {
    dataDir,
    ...(serverName ? { serverName } : {}),
    ...(port ? { port } : {}),
    // 0: no separate metrics listener.
    ...(metricsPort !== undefined ? { metricsPort: metricsPort === 0 ? null : metricsPort } : {}),
  };
}

async function defaultConfigFile(args: ParsedArgs): Promise<string> {
  const first = firstRunOptions(args);
  const file = path.join(first.dataDir, 'homeserver.yaml');
  if (fs.existsSync(file)) return file;
  const generated = await generateConfig(first);
  console.log(`created ${generated.configPath} (signing key ${generated.signingKeyPath})`);
  return generated.configPath;
}

async function runServer(args: ParsedArgs, asWorker: boolean): Promise<void> {
  let files = args.configs;
  if (files.length === 0) {
    if (asWorker) throw new UsageError('worker needs -c homeserver.yaml -c worker.yaml');
    files = [await defaultConfigFile(args)];
  }
  const loaded = await loadConfig(files);
  const isWorker = loaded.config.workerApp !== null && loaded.config.workerApp !== 'synapse.app.homeserver';
  if (asWorker && !isWorker) throw new UsageError('worker: the configuration sets no worker_app; use `homeserver start` for main');
  if (!asWorker && isWorker) throw new UsageError(`start: the configuration is a worker's (worker_app: ${loaded.config.workerApp}); use \`homeserver worker\``);
  console.log(`config: ${loaded.files.join(', ')}`);
  if (loaded.config.database.kind === 'embedded') console.log(`data: embedded Postgres in ${loaded.config.database.dataDir}`);

  const proc = await startHomeserverProcess(loaded);
  const addresses = proc.listeners.flatMap((l) => l.bound.addresses);
  console.log(`${proc.plan.instanceName} ready on ${addresses.join(', ')}`);

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      proc.log.warn(`second ${signal}: exiting without draining`);
      process.exit(1);
    }
    proc.log.info(`received ${signal}`);
    proc.stop().then(
      () => process.exit(0),
      (e: unknown) => {
        console.error(`error while stopping: ${String(e)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

async function describe(args: ParsedArgs): Promise<void> {
  if (args.configs.length === 0) throw new UsageError('describe needs -c FILE');
  const loaded = await loadConfig(args.configs);
  for (const w of loaded.warnings) console.log(`warning: ${w}`);
  console.log(describeRolePlan(planRoles(loaded.config)));
}

const ROUTE_FORMATS = ['nginx', 'haproxy', 'json'] as const;

async function routes(args: ParsedArgs): Promise<void> {
  if (args.configs.length === 0) throw new UsageError('routes needs -c homeserver.yaml (and -w worker.yaml for each worker)');
  const format = single(args, 'format') ?? 'nginx';
  if (!(ROUTE_FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format must be ${ROUTE_FORMATS.join(', ')}; got "${format}"`);
  const listen = single(args, 'listen');
  if (listen !== undefined && !/^(\d+|[^\s;{}']+:\d+)$/.test(listen)) throw new UsageError(`--listen must be PORT or HOST:PORT, got "${listen}"`);
  const { topology, warnings } = await loadProxyTopology(args.configs, args.options.get('worker') ?? []);
  for (const w of warnings) console.error(`warning: ${w}`);
  const plan = planProxy(createManifest(), topology);
  const opts = listen ? { listen } : {};
  process.stdout.write(format === 'json' ? renderProxyJson(plan) : format === 'haproxy' ? renderHaproxy(plan, opts) : renderNginx(plan, opts));
}

async function generate(args: ParsedArgs): Promise<void> {
  const configPath = single(args, 'config-path') ?? args.configs[0];
  const out = await generateConfig({
    ...firstRunOptions(args),
    ...(configPath ? { configPath } : {}),
    overwrite: args.flags.has('force'),
  });
  console.log(`wrote ${out.configPath}`);
  console.log(`signing key: ${out.signingKeyPath}${out.signingKeyCreated ? ' (new)' : ' (kept)'}`);
}

async function registerUserCommand(args: ParsedArgs): Promise<void> {
  if (args.configs.length === 0) throw new UsageError('register-user needs -c homeserver.yaml');
  const user = single(args, 'user');
  if (!user) throw new UsageError('register-user needs --user NAME');
  let password = single(args, 'password');
  if (args.flags.has('password-stdin')) password = fs.readFileSync(0, 'utf8').replace(/\r?\n$/, '');
  if (!password) throw new UsageError('register-user needs --password PW or --password-stdin');
  const url = single(args, 'url');
  const userId = await registerUser({ configs: args.configs, user, password, admin: args.flags.has('admin'), ...(url ? { url } : {}) });
  console.log(`registered ${userId}${args.flags.has('admin') ? ' (admin)' : ''}`);
}

export async function main(argv: readonly string[]): Promise<void> {
  const args = parseArgs(argv, new Set(['help', 'force', 'admin', 'password-stdin']));
  if (args.flags.has('help') || args.command === undefined || args.command === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  switch (args.command) {
    case 'start':
      return runServer(args, false);
    case 'worker':
      return runServer(args, true);
    case 'describe':
      return describe(args);
    case 'routes':
      return routes(args);
    case 'generate-config':
      return generate(args);
    case 'register-user':
      return registerUserCommand(args);
    default:
      throw new UsageError(`unknown command "${args.command}"`);
  }
}

function fail(e: unknown): never {
  if (e instanceof ConfigError) console.error(e.message);
  else if (e instanceof UsageError) console.error(`${e.message}\n\n${USAGE}`);
  else console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}

if (import.meta.main) {
  process.on('unhandledRejection', (e) => {
    console.error(`fatal: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  });
  main(process.argv.slice(2)).catch(fail);
}
