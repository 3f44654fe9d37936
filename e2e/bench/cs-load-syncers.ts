/**
 * Worker thread of `cs-load.bench.ts`: every user long-polls /sync here, on its own event loop, so
 * parsing sync responses does not delay the senders' timing (and vice versa). Delivery latency is
 * read from the message itself: each body carries its send time on the shared wall clock.
 *
 * Messages: in `{type:'start', from}` (measuring begins: messages sent from wall time `from` count), `{type:'stop'}`; out `{type:'ready'}`,
 * `{type:'result', …}`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { JsonClient } from '../support/json-client.ts';

export interface SyncersInput {
  baseUrl: string;
  tokens: string[];
  userIds: string[];
  /** Long-poll timeout of each /sync, in ms. */
  timeoutMs: number;
}

export interface SyncersResult {
  type: 'result';
  /** Send → /sync arrival, in ms, one entry per (message, other member) pair seen. */
  delivery: number[];
  syncs: number;
  errors: number;
  firstError: string | undefined;
  /** Event-loop utilisation of this thread during the load phase (0..1). */
  elu: number;
}

/** High-resolution wall clock, comparable across threads of one process (the senders use the same). */
const wallNow = (): number => performance.timeOrigin + performance.now();

const input = workerData as SyncersInput;
const port = parentPort!;
const client = new JsonClient(input.baseUrl, input.tokens.length + 4);
const FILTER = { room: { timeline: { limit: 50 } } };
const delivery: number[] = [];
let syncs = 0;
let errors = 0;
let firstError: string | undefined;
let running = true;
let recording = false;
/** Wall-clock time from which sent messages count (the end of the warm-up). */
let recordFrom = Infinity;
let eluStart = performance.eventLoopUtilization();

async function syncLoop(token: string, userId: string, filter: string, since: string): Promise<void> {
  while (running) {
    let res: any;
    try {
      res = await client.call(token, 'GET', `/_matrix/client/v3/sync?timeout=${input.timeoutMs}&since=${since}&filter=${filter}`);
    } catch (e) {
      if (!running) return;
      errors++;
      firstError ??= (e as Error).message;
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    const now = wallNow();
    if (recording) syncs++;
    since = res.next_batch;
    if (!recording) continue;
    for (const room of Object.values<any>(res.rooms?.join ?? {})) {
      for (const ev of room.timeline?.events ?? []) {
        if (ev.type !== 'm.room.message' || ev.sender === userId) continue;
        const sentAt = Number(String(ev.content?.body ?? '').split(' ')[1]);
        if (Number.isFinite(sentAt) && sentAt >= recordFrom) delivery.push(now - sentAt);
      }
    }
  }
}

/** Upload the filter, as clients do, then the initial sync: returns [filter id, next_batch]. */
async function initialSync(token: string, userId: string): Promise<[string, string]> {
  const { filter_id } = await client.call(token, 'POST', `/_matrix/client/v3/user/${encodeURIComponent(userId)}/filter`, FILTER);
  const res = await client.call(token, 'GET', `/_matrix/client/v3/sync?filter=${encodeURIComponent(filter_id)}`);
  return [String(filter_id), String(res.next_batch)];
}

const initial = await Promise.all(input.tokens.map((token, i) => initialSync(token, input.userIds[i] as string)));
const loops = input.tokens.map((token, i) => {
  const [filter, since] = initial[i] as [string, string];
  return syncLoop(token, input.userIds[i] as string, filter, since);
});

port.on('message', async (msg: { type: string; from?: number }) => {
  if (msg.type === 'start') {
    recording = true;
    recordFrom = msg.from ?? 0;
    eluStart = performance.eventLoopUtilization();
  } else if (msg.type === 'stop') {
    const elu = performance.eventLoopUtilization(eluStart).utilization;
    running = false;
    // Long polls end by themselves within timeoutMs; closing the sockets ends them now.
    client.close();
    await Promise.allSettled(loops);
    const result: SyncersResult = { type: 'result', delivery, syncs, errors, firstError, elu };
    port.postMessage(result);
    port.close();
  }
});
port.postMessage({ type: 'ready' });
