import assert from 'node:assert/strict';
import { chmod, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError } from '../src/config-error.ts';
import { loadConfig } from '../src/load-config.ts';
import { tempDir, writeFiles } from './helpers.ts';

const HOMESERVER = `
server_name: example.com
suppress_key_server_warning: true
signing_key_path: keys/example.com.signing.key
media_store_path: ./media
log_config: log.yaml
registration_shared_secret_path: secrets/registration
listeners:
  - port: 8008
    type: http
    resources:
      - names: [client, federation]
  - port: 9093
    bind_address: '127.0.0.1'
    type: http
    resources:
      - names: [replication]
database:
  name: embedded
  args:
    data_dir: data/pg
redis:
  enabled: true
worker_replication_secret: "secret_secret"
stream_writers:
  typing: main
`;

const WORKER = `
worker_app: synapse.app.generic_worker
worker_name: generic_worker1
worker_listeners:
  - type: http
    port: 8083
    x_forwarded: yes
    resources:
      - names: [client, federation]
  - type: http
    path: sockets/worker.sock
    mode: 0660
    resources:
      - names: [client]
worker_log_config: ../logs/generic-worker-log.yaml
database:
  name: psycopg2
  args:
    user: synapse
    sslrootcert: certs/ca.pem
`;

describe('loadConfig', () => {
  it('merges files in order: later top-level keys replace earlier ones', async () => {
    const dir = await tempDir();
    await mkdir(path.join(dir, 'workers'));
    const f = await writeFiles(dir, { 'homeserver.yaml': HOMESERVER, 'workers/generic.yaml': WORKER });
    const loaded = await loadConfig([f['homeserver.yaml']!, f['workers/generic.yaml']!], {});
    const c = loaded.config;
    assert.equal(c.serverName, 'example.com');
    assert.equal(c.workerName, 'generic_worker1');
    // `database` is replaced as a whole, not deep-merged.
    assert.equal(c.database.kind, 'postgres');
    assert.equal(c.database.kind === 'postgres' && c.database.user, 'synapse');
    assert.equal(c.redis.enabled, true);
    assert.deepEqual(loaded.files, [f['homeserver.yaml'], f['workers/generic.yaml']]);
    assert.equal(loaded.origins['server_name'], f['homeserver.yaml']);
    assert.equal(loaded.origins['database'], f['workers/generic.yaml']);
    assert.deepEqual(loaded.warnings, []);

    const reversed = await loadConfig([f['workers/generic.yaml']!, f['homeserver.yaml']!], {});
    assert.equal(reversed.config.database.kind, 'embedded');
  });

  it("resolves relative paths against the directory of the file that holds them", async () => {
    const dir = await tempDir();
    await mkdir(path.join(dir, 'workers'));
    const f = await writeFiles(dir, { 'homeserver.yaml': HOMESERVER, 'workers/generic.yaml': WORKER });
    const { config: c } = await loadConfig([f['homeserver.yaml']!, f['workers/generic.yaml']!], {});
    assert.equal(c.signingKeyPath, path.join(dir, 'keys/example.com.signing.key'));
    assert.equal(c.mediaStorePath, path.join(dir, 'media'));
    assert.equal(c.logConfig, path.join(dir, 'log.yaml'));
    assert.equal(c.registrationSharedSecretPath, path.join(dir, 'secrets/registration'));
    assert.equal(c.workerLogConfig, path.join(dir, 'logs/generic-worker-log.yaml'));
    assert.equal(c.database.kind === 'postgres' && c.database.sslRootCert, path.join(dir, 'workers/certs/ca.pem'));
    const socket = c.workerListeners[1];
    assert.equal(socket?.kind === 'unix' && socket.path, path.join(dir, 'workers/sockets/worker.sock'));

    const { config: single } = await loadConfig([f['homeserver.yaml']!], {});
    assert.deepEqual(single.database, { kind: 'embedded', dataDir: path.join(dir, 'data/pg') });
  });

  it('reads YAML 1.1 like Synapse: yes is true, 0660 is octal', async () => {
    const dir = await tempDir();
    const f = await writeFiles(dir, { 'homeserver.yaml': HOMESERVER, 'worker.yaml': WORKER });
    const { config } = await loadConfig([f['homeserver.yaml']!, f['worker.yaml']!], {});
    assert.equal(config.workerListeners[0]?.xForwarded, true);
    const socket = config.workerListeners[1];
    assert.equal(socket?.kind === 'unix' && socket.mode, 0o660);
  });

  it('takes worker_name from the environment for identical replicas', async () => {
    const dir = await tempDir();
    const f = await writeFiles(dir, {
      'homeserver.yaml': HOMESERVER,
      'worker.yaml': 'worker_app: generic_worker\nworker_name: ${HOSTNAME}\n',
    });
    const files = [f['homeserver.yaml']!, f['worker.yaml']!];
    const { config } = await loadConfig(files, { HOSTNAME: 'synapse-generic-5c7d-abcde' });
    assert.equal(config.workerName, 'synapse-generic-5c7d-abcde');
    await assert.rejects(loadConfig(files, {}), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.ok(e.problems.some((p) => p.startsWith('worker_name: "${HOSTNAME}" is not valid') && p.includes('HOSTNAME to be set')));
      return true;
    });
  });

  it('reports YAML syntax errors with the file and line', async () => {
    const dir = await tempDir();
    const f = await writeFiles(dir, {
      'good.yaml': 'server_name: example.com\n',
      'bad.yaml': 'server_name: example.com\nlisteners:\n  - port: 8008\n    resources: [client,\n  - port: 9000\n',
    });
    await assert.rejects(loadConfig([f['good.yaml']!, f['bad.yaml']!], {}), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.problems[0] ?? '', new RegExp(`^${f['bad.yaml']!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: YAML syntax error`));
      assert.ok(e.message.includes(f['bad.yaml']!));
      return true;
    });
  });

  it('reports duplicate keys and tabs as YAML errors with the line', async () => {
    const dir = await tempDir();
    const f = await writeFiles(dir, { 'dup.yaml': 'server_name: a.com\nredis:\n  enabled: true\nserver_name: b.com\n' });
    await assert.rejects(loadConfig([f['dup.yaml']!], {}), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.ok(e.problems.some((p) => p.startsWith(`${f['dup.yaml']}:4:`)), e.message);
      return true;
    });
  });

  it('rejects a file whose top level is not a mapping', async () => {
    const dir = await tempDir();
    const f = await writeFiles(dir, { 'list.yaml': '- server_name: example.com\n' });
    await assert.rejects(loadConfig([f['list.yaml']!], {}), /list\.yaml:1:1: expected a mapping of configuration keys at the top level, found a list/);
  });

  it('reports every unreadable file, by name', async () => {
    const dir = await tempDir();
    const missing1 = path.join(dir, 'nope.yaml');
    const missing2 = path.join(dir, 'also-nope.yaml');
    await assert.rejects(loadConfig([missing1, missing2], {}), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.deepEqual(e.problems, [
        `${missing1}: cannot read configuration file: no such file`,
        `${missing2}: cannot read configuration file: no such file`,
      ]);
      return true;
    });
    if (process.getuid?.() !== 0) {
      const f = await writeFiles(dir, { 'secret.yaml': 'server_name: x\n' });
      await chmod(f['secret.yaml']!, 0o000);
      await assert.rejects(loadConfig([f['secret.yaml']!], {}), /secret\.yaml: cannot read configuration file: permission denied/);
    }
    await assert.rejects(loadConfig([], {}), ConfigError);
  });

  it('names the files in the validation error header', async () => {
    const dir = await tempDir();
    const f = await writeFiles(dir, { 'homeserver.yaml': 'server_name: example.com\nlisteners:\n  - port: eighty\n' });
    await assert.rejects(loadConfig([f['homeserver.yaml']!], {}), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.ok(e.message.startsWith(`Invalid configuration (${f['homeserver.yaml']}): 1 problem:`));
      assert.deepEqual(e.problems, ['listeners[0].port: "eighty" is not valid: expected an integer from 0 to 65535']);
      return true;
    });
  });

  it('treats an empty file as no keys', async () => {
    const dir = await tempDir();
    const f = await writeFiles(dir, { 'homeserver.yaml': HOMESERVER, 'empty.yaml': '# nothing here\n' });
    const { config } = await loadConfig([f['homeserver.yaml']!, f['empty.yaml']!], {});
    assert.equal(config.serverName, 'example.com');
  });
});
