/** Shared fixtures for the config tests: temp dirs and validation shortcuts. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { ConfigError } from '../src/config-error.ts';
import { validateConfig, type ValidatedConfig } from '../src/validate-config.ts';

const dirs: string[] = [];
after(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

export async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'hs-config-test-'));
  dirs.push(d);
  return d;
}

export async function writeFiles(dir: string, files: Record<string, string>): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, text] of Object.entries(files)) {
    out[name] = path.join(dir, name);
    await writeFile(out[name], text);
  }
  return out;
}

export const BASE = '/srv/hs';

export function valid(raw: Record<string, unknown>, env: Record<string, string> = {}): ValidatedConfig {
  return validateConfig(raw, { baseDir: BASE, env, osUser: 'osuser' });
}

/** Validates, expecting failure; returns the ConfigError. */
export function invalid(raw: Record<string, unknown>, env: Record<string, string> = {}): ConfigError {
  try {
    validateConfig(raw, { baseDir: BASE, env, osUser: 'osuser' });
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected the configuration to be rejected');
}

/** The problem line for a key path (the line must start with it). */
export function problemAt(err: ConfigError, keyPath: string): string {
  const line = err.problems.find((p) => p.startsWith(`${keyPath}: `));
  assert.ok(line, `no problem reported at ${keyPath}; got:\n${err.problems.join('\n')}`);
  assert.ok(err.message.includes(line), 'the message includes every problem line');
  return line;
}

/** A shared config for a worker deployment, as in Synapse's docs. */
export const SHARED = {
  server_name: 'example.com',
  suppress_key_server_warning: true,
  listeners: [
    { port: 8008, type: 'http', x_forwarded: true, bind_addresses: ['127.0.0.1'], resources: [{ names: ['client', 'federation'] }] },
    { port: 9093, bind_address: '127.0.0.1', type: 'http', resources: [{ names: ['replication'] }] },
  ],
  worker_replication_secret: 'secret_secret',
  redis: { enabled: true },
  database: { name: 'psycopg2', args: { user: 'synapse', password: 'pw', database: 'synapse', host: 'db', port: 5432 } },
};
