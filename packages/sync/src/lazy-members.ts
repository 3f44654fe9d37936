/**
 * Lazy-loading's memory of which member events each device already has (client-server-api › Lazy-loading
 * room members: "redundant membership events"), so they are not sent again. Per process, like Synapse's:
 * /sync is balanced by access token, so a device keeps coming back to the same process, and losing this
 * memory only makes the server send a few member events again. Bounded: least recently syncing devices
 * are forgotten first, and each device keeps its most recent entries.
 */
export class LazyMembersCache {
  private readonly devices = new Map<string, Map<string, string>>();
  private readonly maxDevices: number;
  private readonly maxEntriesPerDevice: number;

  constructor(opts: { maxDevices?: number; maxEntriesPerDevice?: number } = {}) {
    this.maxDevices = opts.maxDevices ?? 10_000;
    this.maxEntriesPerDevice = opts.maxEntriesPerDevice ?? 20_000;
  }

  private static deviceKey(userId: string, deviceId: string | undefined): string {
    return `${userId}\u0000${deviceId ?? ''}`;
  }

  private entries(userId: string, deviceId: string | undefined, create: boolean): Map<string, string> | undefined {
    const k = LazyMembersCache.deviceKey(userId, deviceId);
    const m = this.devices.get(k);
    if (m) {
      // Most recently used last.
      this.devices.delete(k);
      this.devices.set(k, m);
      return m;
    }
    if (!create) return undefined;
    const fresh = new Map<string, string>();
    this.devices.set(k, fresh);
    while (this.devices.size > this.maxDevices) {
      const oldest = this.devices.keys().next().value as string;
      this.devices.delete(oldest);
    }
    return fresh;
  }

  /** A new sync sequence (no `since`): the client starts from nothing. */
  reset(userId: string, deviceId: string | undefined): void {
    this.devices.delete(LazyMembersCache.deviceKey(userId, deviceId));
  }

  has(userId: string, deviceId: string | undefined, roomId: string, memberId: string, eventId: string): boolean {
    return this.devices.get(LazyMembersCache.deviceKey(userId, deviceId))?.get(`${roomId}\u0000${memberId}`) === eventId;
  }

  record(userId: string, deviceId: string | undefined, sent: Iterable<readonly [roomId: string, memberId: string, eventId: string]>): void {
    let m: Map<string, string> | undefined;
    for (const [roomId, memberId, eventId] of sent) {
      m ??= this.entries(userId, deviceId, true) as Map<string, string>;
      const k = `${roomId}\u0000${memberId}`;
      m.delete(k);
      m.set(k, eventId);
    }
    if (!m) return;
    while (m.size > this.maxEntriesPerDevice) m.delete(m.keys().next().value as string);
  }

  get deviceCount(): number {
    return this.devices.size;
  }
}
