import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import sodium from 'libsodium-wrappers';
import { ConfigError } from '../src/config-error.ts';
import { readOrCreateSecretFile } from '../src/secret-file.ts';
import {
  encodeSigningKeys,
  generateSigningKey,
  loadOrCreateSigningKeys,
  parseSigningKeys,
  readSigningKeyFile,
  signingKeyFileName,
  signingKeyFromSeed,
  writeSigningKeyFile,
} from '../src/signing-key.ts';
import { tempDir } from './helpers.ts';

async function rejectsWith(text: string, fragment: string | RegExp): Promise<void> {
  await assert.rejects(parseSigningKeys(text, 'k.key'), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.ok(
      e.problems.some((p) => (typeof fragment === 'string' ? p.includes(fragment) : fragment.test(p))),
      `expected ${String(fragment)} in:\n${e.problems.join('\n')}`,
    );
    return true;
  });
}

describe('signing keys', () => {
  it('generates keys with a Synapse-style version', async () => {
    const k = await generateSigningKey();
    assert.match(k.version, /^a_[A-Za-z0-9]{4}$/);
    assert.equal(k.keyId, `ed25519:${k.version}`);
    assert.equal(k.seed.length, 32);
    assert.equal(k.publicKey.length, 32);
    assert.equal(k.secretKey.length, 64);
    assert.match(k.publicKeyBase64, /^[A-Za-z0-9+/]{43}$/);
    const other = await generateSigningKey();
    assert.notDeepEqual(other.seed, k.seed);
  });

  it('derives the RFC 8032 public key from a seed', async () => {
    // RFC 8032 §7.1, test 1.
    const seed = Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex');
    const k = await signingKeyFromSeed('a_test', seed);
    assert.equal(Buffer.from(k.publicKey).toString('hex'), 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
    await sodium.ready;
    const sig = sodium.crypto_sign_detached(new Uint8Array(), k.secretKey);
    assert.equal(
      Buffer.from(sig).toString('hex'),
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
    );
  });

  it("round-trips Synapse's file format", async () => {
    const keys = [await generateSigningKey(), await generateSigningKey('old_1')];
    const text = encodeSigningKeys(keys);
    assert.match(text, /^ed25519 a_[A-Za-z0-9]{4} [A-Za-z0-9+/]{43}\ned25519 old_1 [A-Za-z0-9+/]{43}\n$/);
    const back = await parseSigningKeys(text);
    assert.deepEqual(back.map((k) => [k.keyId, k.publicKeyBase64]), keys.map((k) => [k.keyId, k.publicKeyBase64]));
    assert.deepEqual(back[0]?.seed, keys[0]?.seed);
  });

  it('reads a key file written by Synapse (and padded or URL-safe base64)', async () => {
    const seed = Buffer.alloc(32, 7);
    const unpadded = seed.toString('base64').replace(/=+$/, '');
    const [a] = await parseSigningKeys(`ed25519 a_AbCd ${unpadded}\n`);
    const [b] = await parseSigningKeys(`ed25519 a_AbCd ${seed.toString('base64')}\r\n\n`);
    const [c] = await parseSigningKeys(`  ed25519   a_AbCd   ${seed.toString('base64url')}`);
    assert.equal(a?.publicKeyBase64, b?.publicKeyBase64);
    assert.equal(a?.publicKeyBase64, c?.publicKeyBase64);
  });

  it('rejects malformed files with the line number', async () => {
    const good = Buffer.alloc(32, 1).toString('base64').replace(/=+$/, '');
    await rejectsWith('', 'k.key: contains no keys');
    await rejectsWith(`ed25519 a_1\n`, /^k\.key:1: expected "ed25519 <version> <base64 seed>"/);
    await rejectsWith(`ed25519 a_1 ${good}\nrsa a_2 ${good}\n`, /^k\.key:2: unsupported key algorithm "rsa"/);
    await rejectsWith(`ed25519 a-1 ${good}\n`, 'invalid key version');
    await rejectsWith(`ed25519 a_1 not*base64\n`, 'not valid base64');
    await rejectsWith(`ed25519 a_1 ${Buffer.alloc(16).toString('base64')}\n`, 'the key is 16 bytes: expected a 32-byte ed25519 seed');
    await rejectsWith(`ed25519 a_1 ${good}\ned25519 a_1 ${good}\n`, 'k.key:2: key version a_1 appears twice');
  });

  it('writes owner-only files, refuses to clobber, creates when missing', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'keys', signingKeyFileName('localhost:8008'));
    assert.equal(path.basename(file), 'localhost_8008.signing.key');
    const created = await loadOrCreateSigningKeys(file);
    assert.equal(created.created, true);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const again = await loadOrCreateSigningKeys(file);
    assert.equal(again.created, false);
    assert.equal(again.keys[0]?.publicKeyBase64, created.keys[0]?.publicKeyBase64);
    await assert.rejects(writeSigningKeyFile(file, created.keys), /EEXIST/);
    const replacement = await generateSigningKey();
    await writeSigningKeyFile(file, [replacement], true);
    assert.equal((await readSigningKeyFile(file))[0]?.version, replacement.version);
    assert.equal(await readFile(file, 'utf8'), encodeSigningKeys([replacement]));
    await writeFile(file, 'garbage\n');
    await assert.rejects(loadOrCreateSigningKeys(file), ConfigError);
    await assert.rejects(readSigningKeyFile(path.join(dir, 'missing.key')), /no such file/);
  });
});

describe('secret files', () => {
  it('creates a missing secret file once and reads it back', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'secrets', 'registration');
    const first = await readOrCreateSecretFile(file);
    assert.equal(first.created, true);
    assert.match(first.secret, /^[A-Za-z0-9_-]{43}$/);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.deepEqual(await readOrCreateSecretFile(file), { secret: first.secret, created: false });
    await writeFile(file, '  \n');
    await assert.rejects(readOrCreateSecretFile(file), /empty/);
  });
});
