/**
 * Where each stream's writes go from this process. A stream this process writes gets its local writer,
 * and the HTTP-replication endpoints through which other processes' writes reach it; any other stream
 * gets a replicated writer that forwards to the stream's writer and then waits until this process has
 * applied the write (read-your-writes on the worker the client used).
 */
import type { Logger, NotifyFn } from '@hs/core';
import { LocalAccountDataWriter, ReplicatedAccountDataWriter, registerAccountDataReplicationEndpoints, type AccountDataWriter } from '@hs/account-data';
import {
  LocalDeviceListUpdater,
  LocalToDeviceSender,
  ReplicatedDeviceListUpdater,
  ReplicatedToDeviceSender,
  registerDeviceListsReplicationEndpoints,
  registerToDeviceReplicationEndpoints,
  type DeviceListUpdater,
  type ToDeviceSender,
} from '@hs/e2ee';
import {
  LocalReceiptsWriter,
  PresenceHandler,
  ReplicatedPresence,
  ReplicatedReceiptsWriter,
  ReplicatedTypingWriter,
  TypingMirror,
  TypingState,
  registerPresenceReplicationEndpoints,
  registerReceiptsReplicationEndpoints,
  registerTypingReplicationEndpoints,
  type PresenceController,
  type ReceiptsWriter,
  type TypingReader,
  type TypingWriter,
} from '@hs/ephemeral';
import {
  ReplicatedPushRulesUpdater,
  ReplicatedPushersWriter,
  createLocalPushRulesUpdater,
  createLocalPushersWriter,
  registerPushRulesReplicationEndpoints,
  registerPushersReplicationEndpoints,
  serverDefaultPushRules,
  type PushRulesUpdater,
  type PushersWriter,
} from '@hs/push';
import type { ReplicationBus, ReplicationCaller, ReplicationEndpointRegistry, StreamPublisher, StreamFollower } from '@hs/replication';
import type { Sql, StreamWriter } from '@hs/storage';

/** How long a forwarded write waits for this process to apply it before answering anyway. */
const APPLY_WAIT_MS = 10_000;

export interface StreamWritesContext {
  readonly sql: Sql;
  readonly log: Logger;
  readonly serverName: string;
  readonly instanceName: string;
  /** stream → writer instances (`stream_writers`; main by default). */
  readonly streamWriters: Readonly<Record<string, readonly string[]>>;
  /** The streams this process writes. */
  readonly writers: ReadonlyMap<string, StreamWriter>;
  /** Announces committed changes (the change feed). */
  readonly notify: NotifyFn;
  readonly client: ReplicationCaller;
  readonly server: ReplicationEndpointRegistry;
  readonly follower: StreamFollower;
  readonly publisher: StreamPublisher;
  readonly bus: ReplicationBus;
  readonly presenceEnabled: boolean;
  readonly legacyMentionRules: boolean;
}

export interface StreamWrites {
  readonly accountData: AccountDataWriter;
  readonly pushRules: PushRulesUpdater;
  readonly pushers: PushersWriter;
  readonly toDevice: ToDeviceSender;
  readonly deviceLists: DeviceListUpdater;
  readonly receipts: ReceiptsWriter;
  readonly typing: TypingWriter;
  readonly typingReader: TypingReader;
  readonly presence: PresenceController;
  /** The writer instance of `stream` (its first, for streams that have one). */
  writerOf(stream: string): string;
  /** Resolves once this process has applied `position` of (stream, instance). */
  waitFor(stream: string, instance: string, position: number): Promise<void>;
  close(): Promise<void>;
}

export async function createStreamWrites(ctx: StreamWritesContext): Promise<StreamWrites> {
  const { sql, log, notify, server, client } = ctx;
  const writerOf = (stream: string): string => ctx.streamWriters[stream]?.[0] ?? 'main';
  const closers: Array<() => Promise<void> | void> = [];

  let typingMirror: TypingMirror | undefined;
  const waitFor = async (stream: string, instance: string, position: number): Promise<void> => {
    const reached =
      stream === 'typing'
        ? ((await typingMirror?.waitFor(position, APPLY_WAIT_MS)) ?? true)
        : await ctx.follower.waitForPosition(stream, instance, position, APPLY_WAIT_MS);
    if (!reached) log.warn('a forwarded write was not applied here in time', { stream, instance, position });
  };
  /** The local writer (serving other processes' writes too) where this process writes `stream`, else a forwarder. */
  const writerFor = <T>(stream: string, build: { local(w: StreamWriter): T; serve(server: ReplicationEndpointRegistry, t: T): void; remote(): T }): T => {
    const w = ctx.writers.get(stream);
    if (!w) return build.remote();
    const t = build.local(w);
    build.serve(server, t);
    return t;
  };
  const remote = (stream: string) => ({ client, instance: writerOf(stream), waitFor });
  const pushDefaults = serverDefaultPushRules({ legacyMentions: ctx.legacyMentionRules });

  const accountData = writerFor<AccountDataWriter>('account_data', {
    local: (stream) => new LocalAccountDataWriter({ sql, stream, notify }),
    serve: registerAccountDataReplicationEndpoints,
    remote: () => new ReplicatedAccountDataWriter(remote('account_data')),
  });
  const pushRules = writerFor<PushRulesUpdater>('push_rules', {
    local: (writer) => createLocalPushRulesUpdater({ sql, writer, notify, log, defaults: pushDefaults }),
    serve: registerPushRulesReplicationEndpoints,
    remote: () => new ReplicatedPushRulesUpdater(remote('push_rules')),
  });
  const pushers = writerFor<PushersWriter>('pushers', {
    local: (writer) => createLocalPushersWriter({ sql, writer, notify, log }),
    serve: registerPushersReplicationEndpoints,
    // Pushers have no stream_writers entry: main writes them, as in Synapse.
    remote: () => new ReplicatedPushersWriter({ client, instance: 'main', waitFor }),
  });
  const toDevice = writerFor<ToDeviceSender>('to_device', {
    local: (writer) => new LocalToDeviceSender({ sql, writer, notify }),
    serve: registerToDeviceReplicationEndpoints,
    remote: () => new ReplicatedToDeviceSender(remote('to_device')),
  });
  const deviceLists = writerFor<DeviceListUpdater>('device_lists', {
    local: (writer) => new LocalDeviceListUpdater({ sql, writer, notify }),
    serve: registerDeviceListsReplicationEndpoints,
    remote: () => new ReplicatedDeviceListUpdater(remote('device_lists')),
  });
  const receipts = writerFor<ReceiptsWriter>('receipts', {
    local: (stream) => new LocalReceiptsWriter({ sql, stream, notify }),
    serve: registerReceiptsReplicationEndpoints,
    remote: () => new ReplicatedReceiptsWriter(remote('receipts')),
  });

  // Typing lives in memory on its writer; the others mirror it from the rows it publishes.
  let typing: TypingWriter;
  let typingReader: TypingReader;
  if (writerOf('typing') === ctx.instanceName) {
    ctx.publisher.addStream('typing', 0);
    const state = new TypingState({ notify, log, onRow: (row) => ctx.publisher.publish('typing', row.id, [row]) });
    registerTypingReplicationEndpoints(server, state);
    closers.push(() => state.close());
    typing = state;
    typingReader = state;
  } else {
    const mirror = new TypingMirror({ client, instance: writerOf('typing'), notify, log });
    typingMirror = mirror;
    const detach = mirror.attach(ctx.bus);
    closers.push(() => {
      detach();
      mirror.stop();
    });
    void mirror.start().catch((e: unknown) => log.warn('typing mirror could not start yet; it retries', { error: String(e) }));
    typing = new ReplicatedTypingWriter(remote('typing'));
    typingReader = mirror;
  }

  let presence: PresenceController;
  const presenceStream = ctx.writers.get('presence');
  if (presenceStream) {
    const handler = await PresenceHandler.start({ sql, stream: presenceStream, notify, serverName: ctx.serverName, enabled: ctx.presenceEnabled, log });
    registerPresenceReplicationEndpoints(server, handler);
    closers.push(() => handler.close());
    presence = handler;
  } else {
    const forwarder = new ReplicatedPresence({ ...remote('presence'), instanceName: ctx.instanceName, enabled: ctx.presenceEnabled, log });
    forwarder.start();
    closers.push(() => forwarder.close());
    presence = forwarder;
  }

  return {
    accountData,
    pushRules,
    pushers,
    toDevice,
    deviceLists,
    receipts,
    typing,
    typingReader,
    presence,
    writerOf,
    waitFor,
    async close() {
      for (const c of closers.reverse()) await c();
    },
  };
}
