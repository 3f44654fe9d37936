/**
 * The replication bus: fire-and-forget broadcast of commands between the processes of one server.
 * Every command sent reaches every started bus on the same channel, the sender's own included, in
 * the order the sender sent them. Delivery is best effort: callers never wait on it and never see it
 * fail, because Postgres (or the writer itself) is the source of truth that followers catch up from.
 */
import type { ReplicationCommand } from './commands.ts';

export type CommandHandler = (cmd: ReplicationCommand) => void;
export type ConnectionHandler = (connected: boolean) => void;

export interface ReplicationBus {
  readonly instanceName: string;
  /** True while commands sent now are expected to reach the other processes. */
  readonly connected: boolean;
  /** Begins connecting; resolves without waiting for the connection (processes serve while it is down). */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Never throws and never blocks: a command that cannot be sent is dropped, counted and logged. */
  send(cmd: ReplicationCommand): void;
  /** Returns an unsubscribe function. Handlers must not block; throwing is logged and ignored. */
  onCommand(handler: CommandHandler): () => void;
  /** Called with true on every (re)connection and false on every loss. */
  onConnectionChange(handler: ConnectionHandler): () => void;
}

/** Resolves once `bus` is connected, or rejects after `timeoutMs`. */
export function whenConnected(bus: ReplicationBus, timeoutMs: number): Promise<void> {
  if (bus.connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`replication bus ${bus.instanceName} not connected after ${timeoutMs} ms`));
    }, timeoutMs);
    const off = bus.onConnectionChange((up) => {
      if (!up) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}
