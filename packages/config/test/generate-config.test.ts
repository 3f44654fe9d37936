import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { generateConfig } from '../src/generate-config.ts';
import { loadConfig } from '../src/load-config.ts';
import { planRoles } from '../src/role-plan.ts';
import { readSigningKeyFile } from '../src/signing-key.ts';
import { tempDir } from './helpers.ts';

describe('generateConfig', () => {
  it('writes a valid, commented homeserver.yaml with the embedded database and a signing key', async () => {
    const dir = await tempDir();
    const out = await generateConfig({ dataDir: dir });
    assert.equal(out.configPath, path.join(dir, 'homeserver.yaml'));
    assert.equal(out.signingKeyPath, path.join(dir, 'localhost_8008.signing.key'));
    assert.equal(out.databaseDir, path.join(dir, 'postgres'));
    assert.equal(out.mediaStorePath, path.join(dir, 'media_store'));
    assert.equal(out.signingKeyCreated, true);

    const text = await readFile(out.configPath, 'utf8');
    assert.ok(text.split('\n').filter((l) => l.startsWith('#')).length >= 20, 'explains itself in comments');
    assert.equal((await stat(out.configPath)).mode & 0o777, 0o600, 'holds secrets: owner-only');

    const { config, warnings } = await loadConfig([out.configPath], {});
    assert.deepEqual(warnings, []);
    assert.equal(config.serverName, 'localhost:8008');
    assert.equal(config.publicBaseurl, 'http://localhost:8008/');
    assert.deepEqual(config.database, { kind: 'embedded', dataDir: out.databaseDir });
    assert.equal(config.mediaStorePath, out.mediaStorePath);
    assert.equal(config.signingKeyPath, out.signingKeyPath);
    assert.match(config.registrationSharedSecret ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.equal(config.enableRegistration, false);
    const plan = planRoles(config);
    assert.deepEqual(
      plan.listeners.map((l) => [l.address.kind === 'tcp' && l.address.port, l.address.kind === 'tcp' && l.address.bindAddresses, l.resources]),
      [
        [8008, ['127.0.0.1'], ['client', 'federation']],
        [9000, ['127.0.0.1'], ['metrics', 'health']],
      ],
    );
    assert.equal(plan.replication.mode, 'in-process');
    assert.equal((await readSigningKeyFile(out.signingKeyPath)).length, 1);
  });

  it('honours the options, keeps an existing key and refuses to overwrite a config', async () => {
    const dir = await tempDir();
    const opts = { dataDir: path.join(dir, 'data'), configPath: path.join(dir, 'etc', 'hs.yaml'), serverName: 'example.org', port: 8448, bindAddresses: ['0.0.0.0'], metricsPort: null };
    const first = await generateConfig(opts);
    const key = await readFile(first.signingKeyPath, 'utf8');
    const { config } = await loadConfig([first.configPath], {});
    assert.equal(config.publicBaseurl, 'https://example.org/');
    assert.equal(config.listeners.length, 1);
    assert.equal(config.signingKeyPath, path.join(dir, 'data', 'example.org.signing.key'));
    await assert.rejects(generateConfig(opts), /already exists/);
    const second = await generateConfig({ ...opts, overwrite: true });
    assert.equal(second.signingKeyCreated, false);
    assert.equal(await readFile(second.signingKeyPath, 'utf8'), key);
  });

  it('refuses to write a config the server would reject', async () => {
    const dir = await tempDir();
    await assert.rejects(generateConfig({ dataDir: dir, serverName: 'not a name' }), /server_name/);
  });
});
