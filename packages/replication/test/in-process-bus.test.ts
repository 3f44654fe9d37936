import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { whenConnected } from '../src/bus.ts';
import type { ReplicationCommand } from '../src/commands.ts';
import { InProcessBus, InProcessHub } from '../src/in-process-bus.ts';

const tick = () => new Promise((r) => setImmediate(r));

describe('InProcessBus', () => {
  test('delivers asynchronously, in order, to every bus on the hub including the sender', async () => {
    const hub = new InProcessHub();
    const a = new InProcessBus({ instanceName: 'a', hub });
    const b = new InProcessBus({ instanceName: 'b', hub });
    const gotA: ReplicationCommand[] = [];
    const gotB: ReplicationCommand[] = [];
    a.onCommand((c) => gotA.push(c));
    b.onCommand((c) => gotB.push(c));
    await a.start();
    await b.start();
    const cmds: ReplicationCommand[] = [
      { type: 'PING', instance: 'a' },
      { type: 'RDATA', stream: 's', instance: 'a', prev: 0, token: 1, rows: [{ x: 1 }] },
      { type: 'REPLICATE' },
    ];
    for (const c of cmds) a.send(c);
    assert.equal(gotB.length, 0, 'not delivered on the sender stack');
    await tick();
    assert.deepEqual(gotA, cmds);
    assert.deepEqual(gotB, cmds);
  });

  test('receivers get a copy: later mutation by the sender does not leak', async () => {
    const bus = new InProcessBus({ instanceName: 'a' });
    const got: ReplicationCommand[] = [];
    bus.onCommand((c) => got.push(c));
    await bus.start();
    const row = { x: 1 };
    bus.send({ type: 'RDATA', stream: 's', instance: 'a', prev: 0, token: 1, rows: [row] });
    row.x = 2;
    await tick();
    const first = got[0];
    assert.ok(first?.type === 'RDATA');
    assert.deepEqual(first.rows, [{ x: 1 }]);
  });

  test('a throwing handler does not stop delivery to others; commands sent by handlers keep order', async () => {
    const bus = new InProcessBus({ instanceName: 'a' });
    const got: string[] = [];
    bus.onCommand(() => {
      throw new Error('boom');
    });
    bus.onCommand((c) => {
      got.push(c.type);
      if (c.type === 'REPLICATE') bus.send({ type: 'POSITION', stream: 's', instance: 'a', prevToken: 1, newToken: 1 });
    });
    await bus.start();
    bus.send({ type: 'REPLICATE' });
    bus.send({ type: 'PING', instance: 'a' });
    await tick();
    await tick();
    assert.deepEqual(got, ['REPLICATE', 'PING', 'POSITION']);
  });

  test('invalid commands and sends while stopped are dropped and counted, never thrown', async () => {
    const registry = new Registry();
    const bus = new InProcessBus({ instanceName: 'a', registry });
    const got: ReplicationCommand[] = [];
    bus.onCommand((c) => got.push(c));
    bus.send({ type: 'PING', instance: 'a' });
    await bus.start();
    await whenConnected(bus, 100);
    bus.send({ type: 'PING', instance: 'has space' });
    await tick();
    assert.equal(got.length, 0);
    const dropped = await registry.getSingleMetric('synapse_replication_commands_dropped_total')!.get();
    assert.deepEqual(
      dropped.values.map((v) => [v.labels['reason'], v.value]).sort(),
      [
        ['invalid', 1],
        ['stopped', 1],
      ],
    );
    await bus.stop();
    assert.equal(bus.connected, false);
  });
});
