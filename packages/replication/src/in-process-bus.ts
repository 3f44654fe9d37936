/**
 * The bus of a single-process deployment (no Redis), and of tests that simulate several processes in
 * one: buses sharing an InProcessHub see each other's commands. Delivery is asynchronous (a sender never
 * runs a receiver's code on its own stack) and preserves each sender's order.
 */
import type { Logger } from '@hs/core';
import { silentLogger } from '@hs/core';
import type { Registry } from 'prom-client';
import type { CommandHandler, ConnectionHandler, ReplicationBus } from './bus.ts';
import type { ReplicationCommand } from './commands.ts';
import { encodeCommand, parseCommand } from './commands.ts';
import { replicationMetrics, type ReplicationMetrics } from './metrics.ts';

/** The shared "channel" of in-process buses. */
export class InProcessHub {
  private readonly members = new Set<InProcessBus>();

  join(bus: InProcessBus): void {
    this.members.add(bus);
  }

  leave(bus: InProcessBus): void {
    this.members.delete(bus);
  }

  broadcast(cmd: ReplicationCommand): void {
    for (const bus of this.members) bus.enqueue(cmd);
  }
}

export interface InProcessBusOptions {
  instanceName: string;
  /** Buses on the same hub hear each other; defaults to a private hub (a lone process hears itself). */
  hub?: InProcessHub;
  registry?: Registry;
  logger?: Logger;
}

export class InProcessBus implements ReplicationBus {
  readonly instanceName: string;
  private readonly hub: InProcessHub;
  private readonly log: Logger;
  private readonly metrics: ReplicationMetrics;
  private readonly commandHandlers = new Set<CommandHandler>();
  private readonly connectionHandlers = new Set<ConnectionHandler>();
  private readonly queue: ReplicationCommand[] = [];
  private draining = false;
  private started = false;

  constructor(options: InProcessBusOptions) {
    this.instanceName = options.instanceName;
    this.hub = options.hub ?? new InProcessHub();
    this.log = options.logger ?? silentLogger;
    this.metrics = replicationMetrics(options.registry);
  }

  get connected(): boolean {
    return this.started;
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.hub.join(this);
    for (const h of this.connectionHandlers) this.safely(() => h(true));
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.hub.leave(this);
    this.queue.length = 0;
    for (const h of this.connectionHandlers) this.safely(() => h(false));
  }

  send(cmd: ReplicationCommand): void {
    if (!this.started) {
      this.metrics.droppedCommands.inc({ command: cmd.type, reason: 'stopped' });
      return;
    }
    let copy: ReplicationCommand;
    try {
      // A round trip through the wire form: the same validation as Redis, and receivers get their own
      // copy, so a sender that later mutates its rows cannot change what was "sent".
      copy = parseCommand(encodeCommand(cmd));
    } catch (e) {
      this.metrics.droppedCommands.inc({ command: cmd.type, reason: 'invalid' });
      this.log.error('replication: refusing to send invalid command', { command: cmd.type, error: String(e) });
      return;
    }
    this.metrics.outboundCommands.inc({ command: cmd.type, name: 'in_process' });
    this.hub.broadcast(copy);
  }

  onCommand(handler: CommandHandler): () => void {
    this.commandHandlers.add(handler);
    return () => this.commandHandlers.delete(handler);
  }

  onConnectionChange(handler: ConnectionHandler): () => void {
    this.connectionHandlers.add(handler);
    return () => this.connectionHandlers.delete(handler);
  }

  /** Called by the hub. */
  enqueue(cmd: ReplicationCommand): void {
    this.queue.push(cmd);
    if (!this.draining) {
      this.draining = true;
      setImmediate(() => this.drain());
    }
  }

  private drain(): void {
    // Handlers may send more commands; those join the queue and are delivered in this same drain.
    while (this.queue.length > 0) {
      const cmd = this.queue.shift()!;
      this.metrics.inboundCommands.inc({ command: cmd.type, name: 'in_process' });
      for (const h of this.commandHandlers) this.safely(() => h(cmd));
    }
    this.draining = false;
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.log.error('replication: command handler failed', { error: String(e) });
    }
  }
}
