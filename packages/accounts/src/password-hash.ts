/**
 * Password hashing with scrypt (memory-hard) from node:crypto. The stored form carries its own
 * parameters and salt — `scrypt$N$r$p$salt$hash` (salt and hash in unpadded base64) — so the cost can
 * be raised later without invalidating existing hashes. Verification compares in constant time.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

/** 32 MiB and about 0.1 s per hash on a modest core: costly to brute-force, affordable per login. */
export const DEFAULT_SCRYPT: ScryptParams = { N: 2 ** 15, r: 8, p: 1 };
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;

function derive(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  // maxmem must cover 128 * N * r bytes, with headroom.
  const maxmem = 256 * params.N * params.r + 1024 * 1024;
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFKC'), salt, KEY_LENGTH, { N: params.N, r: params.r, p: params.p, maxmem }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

function b64(buf: Buffer): string {
  return buf.toString('base64').replace(/=+$/, '');
}

export async function hashPassword(password: string, params: Partial<ScryptParams> = {}): Promise<string> {
  const p: ScryptParams = { ...DEFAULT_SCRYPT, ...params };
  const salt = randomBytes(SALT_LENGTH);
  const key = await derive(password, salt, p);
  return `scrypt$${p.N}$${p.r}$${p.p}$${b64(salt)}$${b64(key)}`;
}

/** Parse a stored hash; undefined when it is not in our format. */
function parseStored(stored: string): { params: ScryptParams; salt: Buffer; key: Buffer } | undefined {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [N, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  if (![N, r, p].every((n) => Number.isSafeInteger(n) && n > 0) || (N & (N - 1)) !== 0 || N > 2 ** 22 || r > 64 || p > 16) return undefined;
  const salt = Buffer.from(parts[4] ?? '', 'base64');
  const key = Buffer.from(parts[5] ?? '', 'base64');
  if (salt.length === 0 || key.length === 0) return undefined;
  return { params: { N, r, p }, salt, key };
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parseStored(stored);
  if (!parsed) return false;
  const key = await derive(password, parsed.salt, parsed.params);
  return key.length === parsed.key.length && timingSafeEqual(key, parsed.key);
}

/**
 * Spend the same time as a real verification when there is nothing to verify against (unknown user),
 * so response times do not reveal which usernames exist.
 */
export async function verifyAgainstNothing(password: string, params: Partial<ScryptParams> = {}): Promise<false> {
  await derive(password, Buffer.alloc(SALT_LENGTH), { ...DEFAULT_SCRYPT, ...params });
  return false;
}
