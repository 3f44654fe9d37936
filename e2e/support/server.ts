/**
 * A real homeserver for client tests: the CLI's `start` on a fresh data dir (embedded Postgres), with open
 * registration so clients can sign up the way users do.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '@hs/replication/testing';
import { HomeserverProcess, runCli } from './process.ts';

export interface TestServer {
  readonly baseUrl: string;
  readonly serverName: string;
  readonly dataDir: string;
  readonly process: HomeserverProcess;
  stop(): Promise<void>;
}

export async function startTestServer(extraYaml: string[] = []): Promise<TestServer> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hs-e2e-client-'));
  fs.chmodSync(dataDir, 0o711);
  const port = await freePort();
  const gen = await runCli(['generate-config', '--data-dir', dataDir, '--port', String(port), '--metrics-port', '0', '--server-name', `localhost:${port}`]);
  if (gen.code !== 0) throw new Error(gen.output);
  const overrides = path.join(dataDir, 'test-overrides.yaml');
  fs.writeFileSync(
    overrides,
    ['enable_registration: true', 'enable_registration_without_verification: true', ...extraYaml].join('\n') + '\n',
  );
  const proc = new HomeserverProcess(['start', '-c', path.join(dataDir, 'homeserver.yaml'), '-c', overrides]);
  await proc.waitFor(/main ready on/, 60_000);
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    serverName: `localhost:${port}`,
    dataDir,
    process: proc,
    async stop() {
      await proc.stop('SIGTERM');
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
