/**
 * The one sharding function (DESIGN.md §4): SHA-256 of the key's UTF-8 bytes, read as a little-endian
 * unsigned integer (as Synapse does, so a fleet migrated from Synapse keeps its assignments), modulo
 * the number of instances. Rooms → event persisters, destinations →
 * federation senders, users → pushers. It must never change: every process of a fleet (and every
 * version during a rolling upgrade) has to agree on who owns what.
 */
import { createHash } from 'node:crypto';

/** Index in [0, count) for `key`. */
export function shardIndex(key: string, count: number): number {
  if (!Number.isSafeInteger(count) || count < 1 || count > 2 ** 32) {
    throw new RangeError(`shard count must be an integer in [1, 2^32], got ${count}`);
  }
  const digest = createHash('sha256').update(key, 'utf8').digest();
  // Horner's rule from the most significant (last) byte keeps the remainder below count·256 < 2^53.
  let r = 0;
  for (let i = digest.length - 1; i >= 0; i--) r = (r * 256 + (digest[i] as number)) % count;
  return r;
}

/** The instance responsible for `key`, from the configured list (its order matters and is kept). */
export function pickInstance<T>(key: string, instances: readonly T[]): T {
  if (instances.length === 0) throw new RangeError('no instances to pick from');
  return instances[shardIndex(key, instances.length)]!;
}
