/**
 * Last-seen bookkeeping for devices (`last_seen_ts`, `last_seen_ip`, `last_seen_user_agent`), like
 * Synapse's user_ips: requests only note the sighting in memory; a device is written at most once a
 * minute, and pending sightings are flushed together in one UPDATE every few seconds.
 */
import type { Logger } from '@hs/core';
import type { Sql } from '@hs/storage';

interface Sighting {
  readonly userId: string;
  readonly deviceId: string;
  readonly ts: number;
  readonly ip: string | null;
  readonly userAgent: string | null;
}

export const LAST_SEEN_INTERVAL_MS = 60_000;
const FLUSH_EVERY_MS = 5_000;

export class LastSeenRecorder {
  private readonly sql: Sql;
  private readonly log: Logger;
  private readonly pending = new Map<string, Sighting>();
  /** When each device was last queued for writing. */
  private readonly lastQueued = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  constructor(sql: Sql, log: Logger) {
    this.sql = sql;
    this.log = log;
  }

  record(userId: string, deviceId: string, ts: number, ip: string | null, userAgent: string | null): void {
    const key = `${userId}\u0000${deviceId}`;
    const last = this.lastQueued.get(key);
    if (last !== undefined && ts - last < LAST_SEEN_INTERVAL_MS && ts >= last) return;
    this.lastQueued.set(key, ts);
    this.pending.set(key, { userId, deviceId, ts, ip, userAgent: userAgent?.slice(0, 512) ?? null });
    if (!this.timer) {
      this.timer = setInterval(() => void this.flush(), FLUSH_EVERY_MS);
      this.timer.unref();
    }
  }

  /** Write every pending sighting now (also called on shutdown). */
  async flush(): Promise<void> {
    if (this.flushing) await this.flushing;
    if (this.pending.size === 0) return;
    const batch = [...this.pending.values()];
    this.pending.clear();
    this.flushing = this.write(batch).finally(() => (this.flushing = undefined));
    await this.flushing;
    // Forget devices not seen for a while, so the map does not grow without bound.
    const cutoff = batch.reduce((max, s) => Math.max(max, s.ts), 0) - 2 * LAST_SEEN_INTERVAL_MS;
    for (const [key, ts] of this.lastQueued) if (ts < cutoff) this.lastQueued.delete(key);
  }

  private async write(batch: Sighting[]): Promise<void> {
    try {
      await this.sql`
        UPDATE devices AS d
        SET last_seen_ts = v.ts, last_seen_ip = v.ip, last_seen_user_agent = v.ua
        FROM unnest(${batch.map((s) => s.userId)}::text[], ${batch.map((s) => s.deviceId)}::text[],
                    ${batch.map((s) => s.ts)}::bigint[], ${batch.map((s) => s.ip)}::text[],
                    ${batch.map((s) => s.userAgent)}::text[]) AS v(user_id, device_id, ts, ip, ua)
        WHERE d.user_id = v.user_id AND d.device_id = v.device_id
          AND (d.last_seen_ts IS NULL OR d.last_seen_ts < v.ts)`;
    } catch (e) {
      this.log.warn('could not record last-seen times of devices', { error: (e as Error).message, devices: batch.length });
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
