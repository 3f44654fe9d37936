/**
 * A small per-process cache of resolved access tokens, so most requests cost no database round trip.
 * Entries live a few seconds; logout, device deletion, password changes and deactivation drop a
 * user's entries at once on this process, and listeners (the process wiring) tell the other processes
 * over replication. The TTL bounds what a lost invalidation can cost.
 */
export interface CachedToken {
  readonly tokenId: number;
  readonly userId: string;
  readonly deviceId: string | null;
  readonly validUntilMs: number | null;
  readonly isAdmin: boolean;
  readonly isGuest: boolean;
  readonly fetchedAt: number;
}

export const TOKEN_CACHE_TTL_MS = 10_000;
const MAX_ENTRIES = 50_000;

export class TokenCache {
  private readonly byHash = new Map<string, CachedToken>();
  private readonly byUser = new Map<string, Set<string>>();
  private readonly listeners = new Set<(userId: string) => void>();

  /** Hear of every revocation made on this process (not of those applied from elsewhere). */
  onInvalidateUser(listener: (userId: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get(hash: string, now: number): CachedToken | undefined {
    const hit = this.byHash.get(hash);
    if (!hit) return undefined;
    if (now - hit.fetchedAt > TOKEN_CACHE_TTL_MS || now < hit.fetchedAt) {
      this.delete(hash, hit.userId);
      return undefined;
    }
    return hit;
  }

  set(hash: string, entry: CachedToken): void {
    if (this.byHash.size >= MAX_ENTRIES) {
      // Maps iterate in insertion order: drop the oldest entry.
      const oldest = this.byHash.entries().next().value;
      if (oldest) this.delete(oldest[0], oldest[1].userId);
    }
    this.byHash.set(hash, entry);
    let hashes = this.byUser.get(entry.userId);
    if (!hashes) this.byUser.set(entry.userId, (hashes = new Set()));
    hashes.add(hash);
  }

  /** Forget every token of a user (after any change that revokes tokens or changes the user). */
  invalidateUser(userId: string): void {
    this.forgetUser(userId);
    for (const l of this.listeners) l(userId);
  }

  /** Forget a user's tokens because another process revoked them (nobody else is told). */
  forgetUser(userId: string): void {
    for (const hash of this.byUser.get(userId) ?? []) this.byHash.delete(hash);
    this.byUser.delete(userId);
  }

  clear(): void {
    this.byHash.clear();
    this.byUser.clear();
  }

  private delete(hash: string, userId: string): void {
    this.byHash.delete(hash);
    const hashes = this.byUser.get(userId);
    hashes?.delete(hash);
    if (hashes?.size === 0) this.byUser.delete(userId);
  }
}

/**
 * One cache per database pool, shared by the authenticator and the handlers that revoke tokens, so
 * a revocation on this process is seen by the next request without any wiring between them.
 */
const caches = new WeakMap<object, TokenCache>();

export function tokenCacheFor(sql: object): TokenCache {
  let cache = caches.get(sql);
  if (!cache) caches.set(sql, (cache = new TokenCache()));
  return cache;
}
