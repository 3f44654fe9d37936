/**
 * The server's ed25519 signing keys in Synapse's file format: one key per line,
 * `ed25519 <version> <unpadded base64 of the 32-byte seed>`, so a Synapse key file carries over as is.
 */
import { randomInt } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sodium from 'libsodium-wrappers';
import { ConfigError } from './config-error.ts';

export interface SigningKey {
  algorithm: 'ed25519';
  /** e.g. `a_AbCd`; the key ID is `ed25519:<version>`. */
  version: string;
  keyId: string;
  /** The 32-byte seed stored in the file. */
  seed: Uint8Array;
  publicKey: Uint8Array;
  /** libsodium's 64-byte secret key (seed followed by public key), as crypto_sign_detached wants it. */
  secretKey: Uint8Array;
  /** Unpadded standard base64 of the public key, as published in /_matrix/key/v2/server. */
  publicKeyBase64: string;
}

const VERSION = /^[A-Za-z0-9_]+$/;
const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function unpaddedBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64').replace(/=+$/, '');
}

/** Standard or URL-safe base64, padded or not; undefined when the text is not base64 at all. */
function decodeBase64(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(text)) return undefined;
  const body = text.replace(/=+$/, '');
  if (body.length % 4 === 1) return undefined;
  return new Uint8Array(Buffer.from(body.replace(/-/g, '+').replace(/_/g, '/'), 'base64'));
}

/** File name Synapse-style for a server's key: `<server_name>.signing.key`, made filesystem-safe. */
export function signingKeyFileName(serverName: string): string {
  return `${serverName.replace(/[^A-Za-z0-9._-]/g, '_')}.signing.key`;
}

export async function signingKeyFromSeed(version: string, seed: Uint8Array): Promise<SigningKey> {
  if (!VERSION.test(version)) throw new RangeError(`invalid key version ${JSON.stringify(version)}: expected letters, digits and _`);
  if (seed.length !== 32) throw new RangeError(`an ed25519 seed is 32 bytes, got ${seed.length}`);
  await sodium.ready;
  const pair = sodium.crypto_sign_seed_keypair(seed);
  return {
    algorithm: 'ed25519',
    version,
    keyId: `ed25519:${version}`,
    seed: Uint8Array.from(seed),
    publicKey: pair.publicKey,
    secretKey: pair.privateKey,
    publicKeyBase64: unpaddedBase64(pair.publicKey),
  };
}

/** A fresh key; the version defaults to `a_` and four random letters or digits, as Synapse does. */
export async function generateSigningKey(version?: string): Promise<SigningKey> {
  await sodium.ready;
  const v = version ?? `a_${Array.from({ length: 4 }, () => ALPHANUMERIC[randomInt(ALPHANUMERIC.length)]).join('')}`;
  return signingKeyFromSeed(v, sodium.randombytes_buf(32));
}

export function encodeSigningKeys(keys: readonly SigningKey[]): string {
  return keys.map((k) => `${k.algorithm} ${k.version} ${unpaddedBase64(k.seed)}\n`).join('');
}

/** Parses a key file's text; `source` (usually the path) names it in errors, with the line number. */
export async function parseSigningKeys(text: string, source = 'signing key file'): Promise<SigningKey[]> {
  const problems: string[] = [];
  const keys: SigningKey[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]?.trim() ?? '';
    if (line === '') continue;
    const where = `${source}:${i + 1}`;
    const parts = line.split(/\s+/);
    if (parts.length !== 3) {
      problems.push(`${where}: expected "ed25519 <version> <base64 seed>", found ${parts.length} field(s)`);
      continue;
    }
    const [algorithm, version, encoded] = parts as [string, string, string];
    if (algorithm !== 'ed25519') {
      problems.push(`${where}: unsupported key algorithm ${JSON.stringify(algorithm)}: expected ed25519`);
      continue;
    }
    if (!VERSION.test(version)) {
      problems.push(`${where}: invalid key version ${JSON.stringify(version)}: expected letters, digits and _`);
      continue;
    }
    const seed = decodeBase64(encoded);
    if (!seed) {
      problems.push(`${where}: the key is not valid base64`);
      continue;
    }
    if (seed.length !== 32) {
      problems.push(`${where}: the key is ${seed.length} bytes: expected a 32-byte ed25519 seed`);
      continue;
    }
    if (keys.some((k) => k.version === version)) {
      problems.push(`${where}: key version ${version} appears twice`);
      continue;
    }
    keys.push(await signingKeyFromSeed(version, seed));
  }
  if (problems.length === 0 && keys.length === 0) problems.push(`${source}: contains no keys`);
  if (problems.length > 0) throw new ConfigError(problems, `Invalid signing key file ${source}:`);
  return keys;
}

export async function readSigningKeyFile(file: string): Promise<SigningKey[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new ConfigError([`${file}: cannot read signing key file: ${err.code === 'ENOENT' ? 'no such file' : err.message}`]);
  }
  return parseSigningKeys(text, file);
}

/** Writes the keys readable by the owner only; refuses to replace an existing file unless `overwrite`. */
export async function writeSigningKeyFile(file: string, keys: readonly SigningKey[], overwrite = false): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const text = encodeSigningKeys(keys);
  if (overwrite) {
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, text, { mode: 0o600 });
    await rename(tmp, file);
  } else {
    await writeFile(file, text, { mode: 0o600, flag: 'wx' });
  }
}

/** Reads the key file, or creates it with a fresh key when it does not exist (as Synapse ≥ 1.67 does). */
export async function loadOrCreateSigningKeys(file: string): Promise<{ keys: SigningKey[]; created: boolean }> {
  try {
    return { keys: await parseSigningKeys(await readFile(file, 'utf8'), file), created: false };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      if (e instanceof ConfigError) throw e;
      throw new ConfigError([`${file}: cannot read signing key file: ${(e as Error).message}`]);
    }
  }
  const key = await generateSigningKey();
  try {
    await writeSigningKeyFile(file, [key]);
  } catch (e) {
    // Another process created it first: use theirs.
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return { keys: await readSigningKeyFile(file), created: false };
    throw new ConfigError([`${file}: cannot create signing key file: ${(e as Error).message}`]);
  }
  return { keys: [key], created: true };
}
