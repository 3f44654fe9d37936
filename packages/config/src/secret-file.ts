/**
 * `registration_shared_secret_path`: a plain-text file holding only the secret. Like Synapse, a missing
 * file is created with a fresh random secret, readable by the owner only.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from './config-error.ts';

export async function readOrCreateSecretFile(file: string): Promise<{ secret: string; created: boolean }> {
  try {
    const secret = (await readFile(file, 'utf8')).trim();
    if (secret === '') throw new ConfigError([`${file}: the secret file is empty`]);
    return { secret, created: false };
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ConfigError([`${file}: cannot read secret file: ${(e as Error).message}`]);
    }
  }
  const secret = randomBytes(32).toString('base64url');
  try {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return readOrCreateSecretFile(file);
    throw new ConfigError([`${file}: cannot create secret file: ${(e as Error).message}`]);
  }
  return { secret, created: true };
}
