/**
 * The bus between processes: Redis pub/sub on one channel per server (ioredis). One connection
 * publishes, one subscribes (a subscribed Redis connection cannot publish).
 *
 * Redis may go away at any time. Then `send` drops commands at once (no offline queue, no retries of
 * in-flight publishes) rather than buffering without bound or blocking callers; the connections come
 * back with exponential backoff; and on every (re)connection we send REPLICATE so each writer answers
 * with a POSITION per stream — that is how followers learn what they missed and fetch it.
 */
import type { Logger } from '@hs/core';
import { silentLogger } from '@hs/core';
import { Redis, type RedisOptions } from 'ioredis';
import type { Registry } from 'prom-client';
import type { CommandHandler, ConnectionHandler, ReplicationBus } from './bus.ts';
import type { ReplicationCommand } from './commands.ts';
import { CommandParseError, encodeCommand, parseCommand } from './commands.ts';
import { replicationMetrics, type ReplicationMetrics } from './metrics.ts';

/** Synapse's `redis` config section (host/port/password/dbid), plus a unix socket path. */
export interface RedisConnectionOptions {
  host?: string;
  port?: number;
  password?: string | null;
  dbid?: number | null;
  path?: string | null;
}

export interface RedisBusOptions {
  instanceName: string;
  serverName: string;
  /** Defaults to `<serverName>/replication`. */
  channel?: string;
  redis?: RedisConnectionOptions;
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number };
  connectTimeoutMs?: number;
  /** A publish without an answer within this time is dropped. */
  publishTimeoutMs?: number;
  registry?: Registry;
  logger?: Logger;
}

export function replicationChannel(serverName: string): string {
  return `${serverName}/replication`;
}

/** Exponential backoff with ±20% jitter so a fleet does not reconnect in lockstep. */
export function reconnectDelay(attempt: number, initialMs: number, maxMs: number): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.max(0, Math.min(attempt - 1, 30)));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

export class RedisBus implements ReplicationBus {
  readonly instanceName: string;
  readonly channel: string;
  private readonly options: RedisBusOptions;
  private readonly log: Logger;
  private readonly metrics: ReplicationMetrics;
  private readonly commandHandlers = new Set<CommandHandler>();
  private readonly connectionHandlers = new Set<ConnectionHandler>();
  private pub: Redis | undefined;
  private sub: Redis | undefined;
  private pubReady = false;
  private subReady = false;
  private isConnected = false;
  private stopped = false;
  private droppedSinceDown = 0;
  private errorsSinceUp = 0;

  constructor(options: RedisBusOptions) {
    this.options = options;
    this.instanceName = options.instanceName;
    this.channel = options.channel ?? replicationChannel(options.serverName);
    this.log = options.logger ?? silentLogger;
    this.metrics = replicationMetrics(options.registry);
    this.metrics.redisConnected.set(0);
  }

  get connected(): boolean {
    return this.isConnected;
  }

  async start(): Promise<void> {
    if (this.pub !== undefined) return;
    this.stopped = false;
    const pub = new Redis(this.redisOptions('pub'));
    const sub = new Redis(this.redisOptions('sub'));
    this.pub = pub;
    this.sub = sub;

    pub.on('ready', () => {
      this.pubReady = true;
      this.update();
    });
    pub.on('close', () => {
      this.pubReady = false;
      this.update();
    });
    pub.on('error', (e: Error) => this.connectionError('publish', e));

    sub.on('ready', () => {
      // Subscribe on every ready ourselves (autoResubscribe is off): we only count as connected once
      // the subscription is confirmed, so REPLICATE's answers cannot be missed.
      sub.subscribe(this.channel).then(
        () => {
          if (sub !== this.sub || sub.status !== 'ready') return;
          this.subReady = true;
          this.update();
        },
        (e: unknown) => {
          this.connectionError('subscribe', e);
          // Connected but not subscribed would be deaf forever: start over.
          if (sub === this.sub) sub.disconnect(true);
        },
      );
    });
    sub.on('close', () => {
      this.subReady = false;
      this.update();
    });
    sub.on('error', (e: Error) => this.connectionError('subscribe', e));
    sub.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.receive(message);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const { pub, sub } = this;
    this.pub = undefined;
    this.sub = undefined;
    this.pubReady = false;
    this.subReady = false;
    pub?.disconnect();
    sub?.disconnect();
    this.update();
  }

  send(cmd: ReplicationCommand): void {
    let line: string;
    try {
      line = encodeCommand(cmd);
    } catch (e) {
      this.metrics.droppedCommands.inc({ command: cmd.type, reason: 'invalid' });
      this.log.error('replication: refusing to send invalid command', { command: cmd.type, error: String(e) });
      return;
    }
    const pub = this.pub;
    if (pub === undefined || !this.pubReady) {
      this.drop(cmd, 'disconnected');
      return;
    }
    pub.publish(this.channel, line).then(
      () => this.metrics.outboundCommands.inc({ command: cmd.type, name: 'redis' }),
      (e: unknown) => {
        this.drop(cmd, 'error');
        this.log.debug('replication: publish failed', { command: cmd.type, error: String(e) });
      },
    );
  }

  onCommand(handler: CommandHandler): () => void {
    this.commandHandlers.add(handler);
    return () => this.commandHandlers.delete(handler);
  }

  onConnectionChange(handler: ConnectionHandler): () => void {
    this.connectionHandlers.add(handler);
    return () => this.connectionHandlers.delete(handler);
  }

  private redisOptions(role: 'pub' | 'sub'): RedisOptions {
    const r = this.options.redis ?? {};
    const initial = this.options.reconnect?.initialDelayMs ?? 100;
    const max = this.options.reconnect?.maxDelayMs ?? 10_000;
    const opts: RedisOptions = {
      host: r.host ?? 'localhost',
      port: r.port ?? 6379,
      db: r.dbid ?? 0,
      connectionName: `${this.instanceName}-replication-${role}`.replace(/[^\w.-]/g, '_'),
      connectTimeout: this.options.connectTimeoutMs ?? 5_000,
      // Drop rather than queue: a follower catches up from the source of truth, a queue only grows.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      autoResubscribe: false,
      retryStrategy: (times: number) => (this.stopped ? null : reconnectDelay(times, initial, max)),
    };
    if (role === 'pub') opts.commandTimeout = this.options.publishTimeoutMs ?? 5_000;
    if (r.path) opts.path = r.path;
    if (r.password) opts.password = r.password;
    return opts;
  }

  private receive(message: string): void {
    let cmd: ReplicationCommand;
    try {
      cmd = parseCommand(message);
    } catch (e) {
      this.metrics.malformedCommands.inc({ name: 'redis' });
      const detail = e instanceof CommandParseError ? { error: e.message, line: e.line } : { error: String(e) };
      this.log.warn('replication: ignoring malformed command', detail);
      return;
    }
    this.metrics.inboundCommands.inc({ command: cmd.type, name: 'redis' });
    for (const h of this.commandHandlers) {
      try {
        h(cmd);
      } catch (e) {
        this.log.error('replication: command handler failed', { command: cmd.type, error: String(e) });
      }
    }
  }

  private update(): void {
    const now = !this.stopped && this.pubReady && this.subReady;
    if (now === this.isConnected) return;
    this.isConnected = now;
    this.metrics.redisConnected.set(now ? 1 : 0);
    if (now) {
      this.log.info('replication: connected to redis', { channel: this.channel, dropped: this.droppedSinceDown });
      this.droppedSinceDown = 0;
      this.errorsSinceUp = 0;
    } else if (!this.stopped) {
      this.log.warn('replication: lost redis connection, reconnecting in the background', { channel: this.channel });
    }
    for (const h of this.connectionHandlers) {
      try {
        h(now);
      } catch (e) {
        this.log.error('replication: connection handler failed', { error: String(e) });
      }
    }
    // Ask every writer where it is: anything we missed while away shows up as a POSITION ahead of us.
    if (now) this.send({ type: 'REPLICATE' });
  }

  private drop(cmd: ReplicationCommand, reason: string): void {
    this.metrics.droppedCommands.inc({ command: cmd.type, reason });
    if (this.droppedSinceDown++ === 0) {
      this.log.warn('replication: redis unavailable, dropping commands until reconnected', { command: cmd.type, reason });
    }
  }

  private connectionError(which: string, e: unknown): void {
    if (this.stopped) return;
    // ioredis reports every failed reconnection attempt; one warning per outage is enough.
    const log = this.errorsSinceUp++ === 0 ? this.log.warn : this.log.debug;
    log.call(this.log, `replication: redis ${which} connection error`, { error: String(e) });
  }
}
