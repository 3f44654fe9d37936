/**
 * A small per-process cache of resolved access tokens (keyed by the token as presented), so most
 * requests cost no database round trip and no hashing.
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
  private readonly byToken = new Map<string, CachedToken>();
  private readonly byUser = new Map<string, Set<string>>();
  private readonly listeners = new Set<(userId: string) => void>();

  /** Hear of every revocation made on this process (not of those applied from elsewhere). */
  onInvalidateUser(listener: (userId: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get(token: string, now: number): CachedToken | undefined {
    const hit = this.byToken.get(token);
    if (!hit) return undefined;
    if (now - hit.fetchedAt > TOKEN_CACHE_TTL_MS || now < hit.fetchedAt) {
      this.delete(token, hit.userId);
      return undefined;
    }
    return hit;
  }

  set(token: string, entry: CachedToken): void {
    if (this.byToken.size >= MAX_ENTRIES) {
      // Maps iterate in insertion order: drop the oldest entry.
      const oldest = this.byToken.entries().next().value;
      if (oldest) this.delete(oldest[0], oldest[1].userId);
    }
    this.byToken.set(token, entry);
    let tokens = this.byUser.get(entry.userId);
    if (!tokens) this.byUser.set(entry.userId, (tokens = new Set()));
    tokens.add(token);
  }

  /** Forget every token of a user (after any change that revokes tokens or changes the user). */
  invalidateUser(userId: string): void {
    this.forgetUser(userId);
    for (const l of this.listeners) l(userId);
  }

  /** Forget a user's tokens because another process revoked them (nobody else is told). */
  forgetUser(userId: string): void {
    for (const token of this.byUser.get(userId) ?? []) this.byToken.delete(token);
    this.byUser.delete(userId);
  }

  clear(): void {
    this.byToken.clear();
    this.byUser.clear();
  }

  private delete(token: string, userId: string): void {
    this.byToken.delete(token);
    const tokens = this.byUser.get(userId);
    tokens?.delete(token);
    if (tokens?.size === 0) this.byUser.delete(userId);
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
