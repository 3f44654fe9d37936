/**
 * Who is syncing, on the presence writer: a user with a /sync in flight on any process cannot time
 * out to offline (Synapse's USER_SYNC). This process's own syncs are counted; workers report theirs
 * per instance (start, end, and a periodic heartbeat listing all of them), and an instance that has
 * not been heard from for a while is taken to be gone, with its users' syncs ended.
 */

/** How often a worker repeats its list of syncing users. */
export const PRESENCE_SYNC_HEARTBEAT_MS = 30_000;
/** A worker missing two heartbeats (plus slack for slow networks) is taken to be gone. */
export const PRESENCE_SYNC_INSTANCE_TIMEOUT_MS = 2 * PRESENCE_SYNC_HEARTBEAT_MS + 5_000;

/** The key for syncs running on the writer process itself: they end with their request, never by timeout. */
export const LOCAL_INSTANCE = '';

export class SyncingUsers {
  /** instance → user → number of syncs running there. */
  private readonly byInstance = new Map<string, Map<string, number>>();
  /** user → number of instances where they sync. */
  private readonly instancesOf = new Map<string, number>();
  private readonly lastHeard = new Map<string, number>();

  isSyncing(userId: string): boolean {
    return (this.instancesOf.get(userId) ?? 0) > 0;
  }

  has(instance: string, userId: string): boolean {
    return this.byInstance.get(instance)?.has(userId) ?? false;
  }

  /** One more sync of `userId` on `instance`; true when they were not syncing anywhere before. */
  add(instance: string, userId: string): boolean {
    let users = this.byInstance.get(instance);
    if (!users) this.byInstance.set(instance, (users = new Map()));
    const n = users.get(userId) ?? 0;
    users.set(userId, n + 1);
    if (n > 0) return false;
    const k = this.instancesOf.get(userId) ?? 0;
    this.instancesOf.set(userId, k + 1);
    return k === 0;
  }

  /** One sync fewer (all of them with `all`); true when `userId` no longer syncs anywhere. */
  remove(instance: string, userId: string, all = false): boolean {
    const users = this.byInstance.get(instance);
    const n = users?.get(userId);
    if (!users || n === undefined) return false;
    if (n > 1 && !all) {
      users.set(userId, n - 1);
      return false;
    }
    users.delete(userId);
    if (users.size === 0) this.byInstance.delete(instance);
    const k = (this.instancesOf.get(userId) ?? 1) - 1;
    if (k > 0) {
      this.instancesOf.set(userId, k);
      return false;
    }
    this.instancesOf.delete(userId);
    return true;
  }

  /** `instance` syncs exactly `userIds` now. Returns who started syncing anywhere and who stopped. */
  replace(instance: string, userIds: ReadonlySet<string>): { started: string[]; stopped: string[] } {
    const started: string[] = [];
    const stopped: string[] = [];
    for (const userId of [...(this.byInstance.get(instance)?.keys() ?? [])]) {
      if (!userIds.has(userId) && this.remove(instance, userId, true)) stopped.push(userId);
    }
    const users = this.byInstance.get(instance);
    for (const userId of userIds) if (!users?.has(userId) && this.add(instance, userId)) started.push(userId);
    return { started, stopped };
  }

  /** A message from `instance` arrived at `now`. */
  heard(instance: string, now: number): void {
    this.lastHeard.set(instance, now);
  }

  /**
   * Forgets instances (never the local one) not heard from since `now - timeoutMs`, with their syncs.
   * Returns, per forgotten instance, when it was last heard and which users no longer sync anywhere.
   */
  expire(now: number, timeoutMs: number): { instance: string; lastHeard: number; stopped: string[] }[] {
    const out: { instance: string; lastHeard: number; stopped: string[] }[] = [];
    for (const [instance, at] of this.lastHeard) {
      if (instance === LOCAL_INSTANCE || now - at <= timeoutMs) continue;
      this.lastHeard.delete(instance);
      out.push({ instance, lastHeard: at, stopped: this.replace(instance, new Set()).stopped });
    }
    return out;
  }
}
