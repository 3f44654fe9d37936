/**
 * A horizontally scaled homeserver on loopback, the way an operator runs one: main (with the embedded
 * Postgres), generic workers, event persisters and a writer for the ephemeral streams, all sharing one
 * Redis, behind a real nginx configured by `homeserver routes`. Every process is the real CLI, so
 * processes can be killed and restarted like in production.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, RedisServer } from '@hs/replication/testing';
import { HomeserverProcess, runCli } from './process.ts';

export interface FleetWorker {
  readonly name: string;
  /** Public (client) port, when the worker takes proxy traffic. */
  readonly clientPort?: number;
  /** HTTP replication port, when other processes call it (stream writers, event persisters). */
  readonly replicationPort?: number;
}

export interface FleetSpec {
  readonly genericWorkers: number;
  readonly eventPersisters: number;
  /** One worker writing typing, to_device, account_data, receipts and presence. */
  readonly streamWriter: boolean;
  /** More top-level YAML lines for the configuration every process reads (benchmarks: rate limits, logging). */
  readonly extraConfig?: readonly string[];
}

const NGINX_BINS = ['/usr/sbin/nginx', '/usr/bin/nginx'];

export class Fleet {
  readonly dir: string;
  readonly redis: RedisServer;
  readonly processes = new Map<string, HomeserverProcess>();
  readonly workers: FleetWorker[];
  baseUrl = '';
  private nginx: ChildProcess | undefined;
  private readonly mainPort: number;
  private readonly proxyPort: number;

  private constructor(dir: string, redis: RedisServer, workers: FleetWorker[], mainPort: number, proxyPort: number) {
    this.dir = dir;
    this.redis = redis;
    this.workers = workers;
    this.mainPort = mainPort;
    this.proxyPort = proxyPort;
  }

  static async start(spec: FleetSpec): Promise<Fleet> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hs-e2e-fleet-'));
    fs.chmodSync(dir, 0o711);
    const redis = await RedisServer.start();
    const mainPort = await freePort();
    const mainReplication = await freePort();
    const proxyPort = await freePort();
    const workers: FleetWorker[] = [];
    for (let i = 1; i <= spec.genericWorkers; i++) workers.push({ name: `generic${i}`, clientPort: await freePort() });
    for (let i = 1; i <= spec.eventPersisters; i++) workers.push({ name: `persister${i}`, replicationPort: await freePort() });
    if (spec.streamWriter) workers.push({ name: 'writer1', clientPort: await freePort(), replicationPort: await freePort() });
    const fleet = new Fleet(dir, redis, workers, mainPort, proxyPort);
    try {
      await fleet.launch(spec, mainReplication);
    } catch (e) {
      // Whatever did start must not outlive the test run (the runner force-exits without killing children).
      await fleet.stop().catch(() => {});
      throw e;
    }
    return fleet;
  }

  /** Writes the configuration and starts every process, then nginx. */
  private async launch(spec: FleetSpec, mainReplication: number): Promise<void> {
    const { dir, redis, workers, mainPort, proxyPort } = this;
    const serverName = `localhost:${proxyPort}`;
    const gen = await runCli(['generate-config', '--data-dir', dir, '--port', String(mainPort), '--metrics-port', '0', '--server-name', serverName]);
    if (gen.code !== 0) throw new Error(gen.output);
    const persisters = workers.filter((w) => w.name.startsWith('persister')).map((w) => w.name);
    const lines = [
      'enable_registration: true',
      'enable_registration_without_verification: true',
      `public_baseurl: http://127.0.0.1:${proxyPort}/`,
      'redis: {enabled: true, host: 127.0.0.1, port: ' + redis.port + '}',
      'worker_replication_secret: "fleet-secret"',
      'instance_map:',
      `  main: {host: 127.0.0.1, port: ${mainReplication}}`,
      ...workers.filter((w) => w.replicationPort).map((w) => `  ${w.name}: {host: 127.0.0.1, port: ${w.replicationPort}}`),
      'stream_writers:',
      ...(persisters.length > 0 ? [`  events: [${persisters.join(', ')}]`] : []),
      ...(spec.streamWriter ? ['typing', 'to_device', 'account_data', 'receipts', 'presence'].map((s) => `  ${s}: [writer1]`) : []),
      'listeners:',
      `  - {port: ${mainPort}, type: http, bind_addresses: ['127.0.0.1'], x_forwarded: true, resources: [{names: [client, federation, metrics]}]}`,
      `  - {port: ${mainReplication}, type: http, bind_addresses: ['127.0.0.1'], resources: [{names: [replication]}]}`,
      ...(spec.extraConfig ?? []),
    ];
    fs.writeFileSync(path.join(dir, 'shared.yaml'), lines.join('\n') + '\n');
    for (const w of workers) {
      const listeners: string[] = [];
      if (w.clientPort) listeners.push(`  - {type: http, port: ${w.clientPort}, bind_addresses: ['127.0.0.1'], x_forwarded: true, resources: [{names: [client, federation, metrics]}]}`);
      if (w.replicationPort) listeners.push(`  - {type: http, port: ${w.replicationPort}, bind_addresses: ['127.0.0.1'], resources: [{names: [replication]}]}`);
      fs.writeFileSync(
        this.workerFile(w.name),
        ['worker_app: synapse.app.generic_worker', `worker_name: ${w.name}`, 'worker_listeners:', ...listeners].join('\n') + '\n',
      );
    }
    await this.startProcess('main');
    await Promise.all(workers.map((w) => this.startProcess(w.name)));
    await this.startNginx();
  }

  /** nginx's process (it runs without a master, so this one process does all the proxying). */
  get nginxPid(): number | undefined {
    return this.nginx?.pid;
  }

  /** The client port a process serves on (main's, or a worker's public listener). */
  clientPort(name: string): number | undefined {
    return name === 'main' ? this.mainPort : this.workers.find((w) => w.name === name)?.clientPort;
  }

  /** Requests a process received for one endpoint (from its Prometheus metrics). */
  async requestCount(name: string, servlet: string): Promise<number> {
    const port = this.clientPort(name);
    if (port === undefined) return 0;
    const text = await (await fetch(`http://127.0.0.1:${port}/_synapse/metrics`)).text();
    let total = 0;
    for (const m of text.matchAll(/^synapse_http_server_requests_received_total\{([^}]*)\} (\S+)$/gm)) {
      if ((m[1] as string).includes(`servlet="${servlet}"`)) total += Number(m[2]);
    }
    return total;
  }

  workerFile(name: string): string {
    return path.join(this.dir, `${name}.yaml`);
  }

  private configArgs(name: string): string[] {
    const base = ['-c', path.join(this.dir, 'homeserver.yaml'), '-c', path.join(this.dir, 'shared.yaml')];
    return name === 'main' ? base : [...base, '-c', this.workerFile(name)];
  }

  /** Starts (or restarts) one process and waits until it is ready. */
  async startProcess(name: string): Promise<HomeserverProcess> {
    const proc = new HomeserverProcess([name === 'main' ? 'start' : 'worker', ...this.configArgs(name)]);
    this.processes.set(name, proc);
    await proc.waitFor(new RegExp(`${name} (is )?ready`), 90_000);
    return proc;
  }

  /** Kills a process the hard way (no drain, no flush). */
  async kill(name: string): Promise<void> {
    await this.processes.get(name)?.stop('SIGKILL');
  }

  /** Stops a process with `signal` (SIGTERM drains, SIGKILL crashes) and starts it again once it has exited. */
  async restart(name: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<HomeserverProcess> {
    await this.processes.get(name)?.stop(signal);
    return this.startProcess(name);
  }

  /** The nginx configuration the fleet runs (the output of `homeserver routes` inside an `http {}` block). */
  nginxConfig(): string {
    return fs.readFileSync(path.join(this.dir, 'nginx', 'nginx.conf'), 'utf8');
  }

  /** nginx's error log so far (upstream failures, retries to the next upstream). */
  nginxErrors(): string {
    const file = path.join(this.dir, 'nginx', 'error.log');
    return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  }

  private async startNginx(): Promise<void> {
    const bin = NGINX_BINS.find((b) => fs.existsSync(b));
    if (!bin) throw new Error('nginx is not installed (the fleet test needs it; .ci/run installs nginx-light)');
    const workerArgs = this.workers.map((w) => ['-w', this.workerFile(w.name)]).flat();
    const routes = await runCli(['routes', '--format', 'nginx', '--listen', `127.0.0.1:${this.proxyPort}`, ...this.configArgs('main'), ...workerArgs]);
    if (routes.code !== 0) throw new Error(`homeserver routes failed:\n${routes.output}`);
    // The CLI's warnings (stderr) are mixed into the captured output; the configuration is the rest.
    const conf = routes.output.split('\n').filter((l) => !l.startsWith('warning:')).join('\n');
    const ndir = path.join(this.dir, 'nginx');
    fs.mkdirSync(ndir, { recursive: true });
    const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `  ${k}_temp_path ${ndir}/${k};`).join('\n');
    const file = path.join(ndir, 'nginx.conf');
    fs.writeFileSync(file, `daemon off;\nmaster_process off;\npid ${ndir}/nginx.pid;\nerror_log ${ndir}/error.log;\nevents {}\nhttp {\n  access_log off;\n${temp}\n${conf}\n}\n`);
    this.nginx = spawn(bin, ['-p', ndir, '-e', `${ndir}/error.log`, '-c', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.baseUrl = `http://127.0.0.1:${this.proxyPort}`;
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        const res = await fetch(`${this.baseUrl}/_matrix/client/versions`);
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`nginx did not come up: ${fs.readFileSync(`${ndir}/error.log`, 'utf8')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async stop(): Promise<void> {
    this.nginx?.kill('SIGTERM');
    const order = [...this.processes.keys()].filter((n) => n !== 'main');
    await Promise.all(order.map((n) => this.processes.get(n)?.stop('SIGTERM')));
    await this.processes.get('main')?.stop('SIGTERM');
    await this.redis.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
