import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import type { ReplicationBus } from '../src/bus.ts';
import type { ReplicationCommand, StreamRow } from '../src/commands.ts';
import { StreamFollower, type AdvanceEvent } from '../src/stream-follower.ts';
import { StreamPublisher } from '../src/stream-publisher.ts';
import { AppliedLog, FakeStreamSource } from './fake-stream-source.ts';

const followers: StreamFollower[] = [];
afterEach(() => {
  for (const f of followers.splice(0)) f.stop();
});

function setup(options: { positions?: Record<string, number>; catchUpAfterMs?: number; registry?: Registry } = {}) {
  const source = new FakeStreamSource();
  const applied = new AppliedLog();
  const follower = new StreamFollower({
    retry: { initialDelayMs: 5, maxDelayMs: 20 },
    catchUpAfterMs: options.catchUpAfterMs ?? 1_000,
    ...(options.registry ? { registry: options.registry } : {}),
  });
  followers.push(follower);
  follower.registerStream({
    stream: 's',
    fetchRows: source.fetchRows,
    positions: options.positions ?? { w: 0 },
    onRows: applied.handler,
  });
  return { source, applied, follower };
}

function rdata(source: FakeStreamSource, writer: string, prev: number, token: number, store = true): ReplicationCommand {
  const rows: StreamRow[] = [];
  for (let p = prev + 1; p <= token; p++) rows.push(store ? source.add(writer, p) : { writer, pos: p });
  return { type: 'RDATA', stream: 's', instance: writer, prev, token, rows };
}

function position(writer: string, prevToken: number, newToken: number): ReplicationCommand {
  return { type: 'POSITION', stream: 's', instance: writer, prevToken, newToken };
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

describe('StreamFollower', () => {
  test('applies RDATA in order, once, without fetching', async () => {
    const { source, applied, follower } = setup();
    for (let t = 1; t <= 5; t++) follower.handleCommand(rdata(source, 'w', t - 1, t));
    await follower.idle();
    assert.deepEqual(applied.positions('w'), [1, 2, 3, 4, 5]);
    assert.deepEqual(source.calls, []);
    assert.equal(follower.position('s', 'w'), 5);
    assert.ok(applied.batches.every((b) => !b.fetched));
  });

  test('version moves with every applied position, and only then', async () => {
    const { source, follower } = setup();
    const v0 = follower.version;
    follower.handleCommand(rdata(source, 'w', 0, 1));
    await follower.idle();
    const v1 = follower.version;
    assert.ok(v1 > v0, 'an applied batch moves it');
    follower.handleCommand(rdata(source, 'w', 0, 1));
    await follower.idle();
    assert.equal(follower.version, v1, 'a duplicate does not');
    follower.handleCommand(position('w', 1, 3));
    await follower.idle();
    assert.ok(follower.version > v1, 'a POSITION that advances moves it');
    assert.deepEqual([...follower.positions('s')], [['w', 3]]);
  });

  test('ignores duplicates', async () => {
    const { source, applied, follower } = setup();
    const c1 = rdata(source, 'w', 0, 1);
    const c2 = rdata(source, 'w', 1, 3);
    for (const c of [c1, c1, c2, c1, c2]) follower.handleCommand(c);
    await follower.idle();
    assert.deepEqual(applied.positions('w'), [1, 2, 3]);
    assert.deepEqual(source.calls, []);
  });

  test('fills a gap from the source before applying the newer batch', async () => {
    const { source, applied, follower } = setup();
    follower.handleCommand(rdata(source, 'w', 0, 1));
    rdata(source, 'w', 1, 3); // lost on the bus
    follower.handleCommand(rdata(source, 'w', 3, 4));
    await follower.idle();
    assert.deepEqual(applied.positions('w'), [1, 2, 3, 4]);
    assert.deepEqual(source.calls, [['w', 1, 3]]);
    assert.deepEqual(
      applied.batches.map((b) => [b.token, b.fetched]),
      [
        [1, false],
        [3, true],
        [4, false],
      ],
    );
  });

  test('out-of-order delivery: the late batch becomes a duplicate', async () => {
    const { source, applied, follower } = setup();
    const c1 = rdata(source, 'w', 0, 1);
    const c2 = rdata(source, 'w', 1, 2);
    const c3 = rdata(source, 'w', 2, 3);
    for (const c of [c1, c3, c2]) follower.handleCommand(c);
    await follower.idle();
    assert.deepEqual(applied.positions('w'), [1, 2, 3]);
    assert.deepEqual(source.calls, [['w', 1, 2]]);
  });

  test('POSITION: skips the fetch when nothing was written since prev, fetches otherwise', async () => {
    const { source, applied, follower } = setup();
    follower.handleCommand(rdata(source, 'w', 0, 2));
    follower.handleCommand(position('w', 2, 7)); // advanced without rows
    await follower.idle();
    assert.equal(follower.position('s', 'w'), 7);
    assert.deepEqual(source.calls, []);

    rdata(source, 'w', 7, 9); // lost
    follower.handleCommand(position('w', 9, 12));
    await follower.idle();
    assert.deepEqual(source.calls, [['w', 7, 12]]);
    assert.equal(follower.position('s', 'w'), 12);
    assert.deepEqual(applied.positions('w'), [1, 2, 8, 9]);

    follower.handleCommand(position('w', 9, 12)); // repeat: nothing to do
    follower.handleCommand(position('w', 3, 5)); // stale
    await follower.idle();
    assert.equal(source.calls.length, 1);
    assert.equal(follower.position('s', 'w'), 12);
  });

  test('a batch overlapping what was applied out of band is fetched, not re-applied', async () => {
    const { source, applied, follower } = setup();
    const c1 = rdata(source, 'w', 0, 1);
    const c23 = rdata(source, 'w', 1, 3);
    follower.handleCommand(c1);
    await follower.catchUp('s', 'w', 2); // e.g. an HTTP caller said it is at 2
    follower.handleCommand(c23);
    await follower.idle();
    assert.deepEqual(applied.positions('w'), [1, 2, 3]);
    assert.deepEqual(source.calls, [
      ['w', 1, 2],
      ['w', 2, 3],
    ]);
  });

  test('concurrent POSITION and RDATA during a slow catch-up: exactly once, in order', async () => {
    const { source, applied, follower } = setup();
    source.delayMs = 15;
    for (let t = 1; t <= 5; t++) rdata(source, 'w', t - 1, t); // written while we were away
    follower.handleCommand(position('w', 5, 5));
    const live = [rdata(source, 'w', 5, 6), rdata(source, 'w', 6, 8), rdata(source, 'w', 8, 9)];
    follower.handleCommand(live[1]!);
    follower.handleCommand(position('w', 9, 9));
    follower.handleCommand(live[0]!);
    follower.handleCommand(live[2]!);
    await follower.idle();
    assert.deepEqual(applied.positions('w'), range(1, 9));
    assert.equal(follower.position('s', 'w'), 9);
  });

  test('randomised: any loss, duplication and reordering, then a POSITION, yields every row once in order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ rows: fc.nat(3), skip: fc.nat(2) }), { minLength: 1, maxLength: 25 }),
        fc.array(fc.nat(), { maxLength: 60 }),
        fc.integer({ min: 1, max: 0xffff }),
        async (steps, picks, seed) => {
          const { source, applied, follower } = setup({ positions: { w: 0 } });
          const sent: ReplicationCommand[] = [];
          const bus = captureBus('w', sent);
          const publisher = new StreamPublisher({ bus });
          publisher.addStream('s', 0);
          // The writer: stage rows at consecutive IDs, advance past some IDs without rows.
          let id = 0;
          for (const step of steps) {
            for (let i = 0; i < step.rows; i++) {
              id++;
              publisher.stage('s', id, [source.add('w', id)]);
            }
            id += step.skip;
            publisher.advance('s', id);
          }
          // The bus: an arbitrary selection of what was sent, in arbitrary order, with repeats.
          let rnd = seed;
          source.delayMs = () => (rnd = (rnd * 48271) % 0x7fffffff) % 3;
          for (const p of picks) if (sent.length > 0) follower.handleCommand(sent[p % sent.length]!);
          // Reconnection: REPLICATE is answered with the writer's position.
          publisher.start();
          follower.handleCommand(sent[sent.length - 1]!);
          await follower.idle();
          assert.deepEqual(
            applied.positions('w'),
            source.rows.map((r) => r.pos),
          );
          assert.equal(follower.position('s', 'w'), id);
          follower.stop();
        },
      ),
      { numRuns: 150 },
    );
  });

  test('multi-writer: current token is the minimum over writers; onAdvance reports each step', async () => {
    const { source, follower } = setup({ positions: { a: 10, b: 12 } });
    const events: AdvanceEvent[] = [];
    follower.onAdvance((e) => events.push(e));
    assert.equal(follower.currentToken('s'), 10);
    follower.handleCommand(rdata(source, 'a', 10, 15));
    await follower.idle();
    assert.equal(follower.currentToken('s'), 12);
    follower.handleCommand(position('b', 12, 20));
    await follower.idle();
    assert.equal(follower.currentToken('s'), 15);
    assert.deepEqual(Object.fromEntries(follower.positions('s')), { a: 15, b: 20 });
    assert.deepEqual(events, [
      { stream: 's', writer: 'a', position: 15 },
      { stream: 's', writer: 'b', position: 20 },
    ]);
  });

  test('a writer first heard of after start is caught up from the lowest start position', async () => {
    const { source, applied, follower } = setup({ positions: { w: 30, v: 20 } });
    rdata(source, 'new', 20, 40); // its first announcements were lost
    follower.handleCommand(rdata(source, 'new', 40, 41));
    follower.handleCommand(position('other', 7, 7));
    await follower.idle();
    assert.deepEqual(applied.positions('new'), range(21, 41));
    assert.deepEqual(source.calls, [['new', 20, 40]]);
    assert.equal(follower.position('s', 'other'), 7);
  });

  test('without start positions, a writer is followed from the position it first announces', async () => {
    const source = new FakeStreamSource();
    const applied = new AppliedLog();
    const follower = new StreamFollower();
    followers.push(follower);
    follower.registerStream({ stream: 's', fetchRows: source.fetchRows, onRows: applied.handler });
    assert.equal(follower.currentToken('s'), undefined);
    follower.handleCommand(rdata(source, 'w', 40, 41));
    follower.handleCommand(position('x', 7, 9));
    await follower.idle();
    assert.deepEqual(applied.positions('w'), [41]);
    assert.equal(follower.position('s', 'x'), 9);
    assert.deepEqual(source.calls, []);
    assert.equal(follower.currentToken('s'), 9);
  });

  test('ignores other streams and command types', async () => {
    const { source, applied, follower } = setup();
    follower.handleCommand({ type: 'RDATA', stream: 'other', instance: 'w', prev: 0, token: 1, rows: [{ pos: 1 }] });
    follower.handleCommand({ type: 'REPLICATE' });
    follower.handleCommand({ type: 'PING', instance: 'w' });
    await follower.idle();
    assert.equal(applied.batches.length, 0);
    assert.equal(source.calls.length, 0);
    assert.throws(() => follower.onRows('other', () => {}), /not registered/);
  });

  test('failed fetches are retried with backoff; nothing is skipped meanwhile', async () => {
    const registry = new Registry();
    const { source, applied, follower } = setup({ registry });
    rdata(source, 'w', 0, 2);
    source.failNext = 2;
    follower.handleCommand(position('w', 2, 2));
    follower.handleCommand(rdata(source, 'w', 2, 3));
    await follower.idle();
    assert.deepEqual(applied.positions('w'), [1, 2, 3]);
    assert.equal(source.calls.length, 3);
    const failures = await registry.getSingleMetric('synapse_replication_catchup_failures_total')!.get();
    assert.equal(failures.values[0]?.value, 2);
  });

  test('paged fetches: the source may answer part of the range', async () => {
    const applied = new AppliedLog();
    const calls: [number, number][] = [];
    const f2 = new StreamFollower();
    followers.push(f2);
    f2.registerStream({
      stream: 's',
      positions: { w: 0 },
      onRows: applied.handler,
      fetchRows: async (_s, writer, from, to) => {
        calls.push([from, to]);
        const upTo = Math.min(to, from + 4);
        return { rows: range(from + 1, upTo).map((pos) => ({ writer, pos })), upTo };
      },
    });
    f2.handleCommand(position('w', 10, 10));
    await f2.idle();
    assert.deepEqual(applied.positions('w'), range(1, 10));
    assert.deepEqual(calls, [
      [0, 10],
      [4, 10],
      [8, 10],
    ]);
  });

  test('a throwing row handler is logged and does not stop the stream', async () => {
    const { source, applied, follower } = setup();
    let calls = 0;
    follower.onRows('s', () => {
      calls++;
      throw new Error('consumer bug');
    });
    follower.handleCommand(rdata(source, 'w', 0, 1));
    follower.handleCommand(rdata(source, 'w', 1, 2));
    await follower.idle();
    assert.equal(calls, 2);
    assert.deepEqual(applied.positions('w'), [1, 2]);
  });

  test('waitForPosition resolves when the position is applied, false on timeout', async () => {
    const { source, follower } = setup();
    const early = follower.waitForPosition('s', 'w', 2, 500);
    const never = follower.waitForPosition('s', 'w', 50, 30);
    follower.handleCommand(rdata(source, 'w', 0, 1));
    follower.handleCommand(rdata(source, 'w', 1, 2));
    assert.equal(await early, true);
    assert.equal(await never, false);
    assert.equal(await follower.waitForPosition('s', 'w', 1, 10), true);
    assert.throws(() => follower.waitForPosition('nope', 'w', 1, 10));
  });

  test('waitForPosition fetches by itself when the announcement never comes', async () => {
    const { source, applied, follower } = setup({ catchUpAfterMs: 20 });
    rdata(source, 'w', 0, 3); // committed, announcement lost
    const started = Date.now();
    assert.equal(await follower.waitForPosition('s', 'w', 3, 2_000), true);
    assert.ok(Date.now() - started < 1_000);
    assert.deepEqual(applied.positions('w'), [1, 2, 3]);
    assert.deepEqual(source.calls, [['w', 0, 3]]);
  });

  test('stop() ends waits and retries', async () => {
    const { source, follower } = setup();
    source.failNext = 1_000;
    follower.handleCommand(position('w', 5, 5));
    const wait = follower.waitForPosition('s', 'w', 5, 5_000);
    await new Promise((r) => setTimeout(r, 30));
    follower.stop();
    assert.equal(await wait, false);
    await follower.idle();
  });

  test('reports position and lag metrics', async () => {
    const registry = new Registry();
    const { source, follower } = setup({ registry });
    source.delayMs = 30;
    rdata(source, 'w', 0, 4);
    follower.handleCommand(position('w', 4, 4));
    await new Promise((r) => setTimeout(r, 5));
    const lagDuring = await registry.getSingleMetric('synapse_replication_stream_lag')!.get();
    assert.equal(lagDuring.values.find((v) => v.labels['writer'] === 'w')?.value, 4);
    await follower.idle();
    const lag = await registry.getSingleMetric('synapse_replication_stream_lag')!.get();
    const pos = await registry.getSingleMetric('synapse_replication_stream_position')!.get();
    assert.equal(lag.values.find((v) => v.labels['writer'] === 'w')?.value, 0);
    assert.equal(pos.values.find((v) => v.labels['writer'] === 'w')?.value, 4);
  });
});

/** A bus that only records what is sent (the follower is fed by hand). */
function captureBus(instanceName: string, sent: ReplicationCommand[]): ReplicationBus {
  return {
    instanceName,
    connected: true,
    start: async () => {},
    stop: async () => {},
    send: (cmd) => void sent.push(cmd),
    onCommand: () => () => {},
    onConnectionChange: () => () => {},
  };
}
