import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ReplicationCommand } from '../src/commands.ts';
import { InProcessBus, InProcessHub } from '../src/in-process-bus.ts';
import { StreamFollower } from '../src/stream-follower.ts';
import { StreamPublisher } from '../src/stream-publisher.ts';
import { AppliedLog, FakeStreamSource } from './fake-stream-source.ts';

const tick = () => new Promise((r) => setImmediate(r));

async function twoProcesses() {
  const hub = new InProcessHub();
  const writerBus = new InProcessBus({ instanceName: 'main', hub });
  const readerBus = new InProcessBus({ instanceName: 'worker1', hub });
  const seen: ReplicationCommand[] = [];
  readerBus.onCommand((c) => seen.push(c));
  await writerBus.start();
  await readerBus.start();
  return { writerBus, readerBus, seen };
}

/** One process on an in-process bus: a publisher of stream `s` feeding its own follower. */
async function singleProcess() {
  const bus = new InProcessBus({ instanceName: 'main' });
  await bus.start();
  const source = new FakeStreamSource();
  const applied = new AppliedLog();
  const follower = new StreamFollower();
  follower.registerStream({ stream: 's', positions: { main: 0 }, fetchRows: source.fetchRows, onRows: applied.handler });
  follower.attach(bus);
  const publisher = new StreamPublisher({ bus, localFollower: follower });
  publisher.addStream('s', 0);
  publisher.start();
  return { bus, source, applied, follower, publisher };
}

describe('StreamPublisher', () => {
  test('announces positions on start and answers REPLICATE for every stream it writes', async () => {
    const { writerBus, readerBus, seen } = await twoProcesses();
    const publisher = new StreamPublisher({ bus: writerBus });
    publisher.addStream('events', 10);
    publisher.addStream('typing', 3);
    publisher.start();
    await tick();
    const positions = (cmds: ReplicationCommand[]) => cmds.filter((c) => c.type === 'POSITION');
    assert.deepEqual(positions(seen), [
      { type: 'POSITION', stream: 'events', instance: 'main', prevToken: 10, newToken: 10 },
      { type: 'POSITION', stream: 'typing', instance: 'main', prevToken: 3, newToken: 3 },
    ]);
    seen.length = 0;
    readerBus.send({ type: 'REPLICATE' });
    await tick();
    await tick();
    assert.equal(positions(seen).length, 2);
    publisher.stop();
    seen.length = 0;
    readerBus.send({ type: 'REPLICATE' });
    await tick();
    await tick();
    assert.equal(positions(seen).length, 0);
  });

  test('RDATA carries the previous announced position; POSITION carries the last position with rows', async () => {
    const { writerBus, seen } = await twoProcesses();
    const publisher = new StreamPublisher({ bus: writerBus });
    publisher.addStream('s', 5);
    publisher.publish('s', 7, [{ id: 6 }, { id: 7 }]);
    publisher.advance('s', 9);
    publisher.publish('s', 10, [{ id: 10 }]);
    publisher.advance('s', 12);
    publisher.advance('s', 11); // stale: ignored
    publisher.publish('s', 12, [{ id: 12 }]); // not ahead: refused
    await tick();
    assert.deepEqual(seen, [
      { type: 'RDATA', stream: 's', instance: 'main', prev: 5, token: 7, rows: [{ id: 6 }, { id: 7 }] },
      { type: 'POSITION', stream: 's', instance: 'main', prevToken: 7, newToken: 9 },
      { type: 'RDATA', stream: 's', instance: 'main', prev: 9, token: 10, rows: [{ id: 10 }] },
      { type: 'POSITION', stream: 's', instance: 'main', prevToken: 10, newToken: 12 },
    ]);
    assert.equal(publisher.position('s'), 12);
    assert.deepEqual(Object.fromEntries(publisher.positions()), { s: 12 });
    assert.deepEqual(publisher.replicationPositions(), { s: { main: 12 } });
  });

  test('staged rows go out, in ID order, once the position passes their IDs', async () => {
    const { writerBus, seen } = await twoProcesses();
    const publisher = new StreamPublisher({ bus: writerBus });
    publisher.addStream('s', 10);
    publisher.stage('s', 12, [{ id: 12 }]); // committed before 11
    publisher.advance('s', 10);
    publisher.stage('s', 11, [{ id: 11, n: 1 }, { id: 11, n: 2 }]);
    publisher.stage('s', 14, [{ id: 14 }]);
    publisher.advance('s', 12);
    publisher.advance('s', 13);
    publisher.advance('s', 15);
    publisher.stage('s', 3, [{ id: 3 }]); // too late: logged, not sent
    await tick();
    assert.deepEqual(seen, [
      { type: 'RDATA', stream: 's', instance: 'main', prev: 10, token: 12, rows: [{ id: 11, n: 1 }, { id: 11, n: 2 }, { id: 12 }] },
      { type: 'POSITION', stream: 's', instance: 'main', prevToken: 12, newToken: 13 },
      { type: 'RDATA', stream: 's', instance: 'main', prev: 13, token: 15, rows: [{ id: 14 }] },
    ]);
  });

  test('single process: publisher and follower on one bus; the local follower sees writes while the bus is down', async () => {
    const { bus, source, applied, follower, publisher } = await singleProcess();
    publisher.publish('s', 1, [source.add('main', 1)]);
    await bus.stop();
    publisher.publish('s', 2, [source.add('main', 2)]);
    await follower.idle();
    await tick();
    await follower.idle();
    assert.deepEqual(applied.positions('main'), [1, 2]);
    assert.equal(source.calls.length, 0);
    follower.stop();
  });

  test('a worker follows main through the hub without missing or repeating rows', async () => {
    const { writerBus, readerBus } = await twoProcesses();
    const source = new FakeStreamSource();
    for (let i = 1; i <= 3; i++) source.add('main', i); // written before the worker started
    const applied = new AppliedLog();
    const follower = new StreamFollower();
    follower.registerStream({ stream: 's', positions: { main: 0 }, fetchRows: source.fetchRows, onRows: applied.handler });
    follower.attach(readerBus);
    const publisher = new StreamPublisher({ bus: writerBus });
    publisher.addStream('s', 3);
    publisher.start();
    for (let i = 4; i <= 20; i++) publisher.publish('s', i, [source.add('main', i)]);
    assert.equal(await follower.waitForPosition('s', 'main', 20, 1_000), true);
    assert.deepEqual(
      applied.positions('main'),
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    assert.deepEqual(source.calls, [['main', 0, 3]]);
    follower.stop();
  });
  test('an ambiguous commit makes followers read the range back instead of trusting the staged rows', async () => {
    const { bus, source, applied, follower, publisher } = await singleProcess();
    publisher.stage('s', 1, [source.add('main', 1)]);
    publisher.advance('s', 1);
    // ID 2 committed although its writer was told the connection dropped: nothing was staged for it.
    source.add('main', 2);
    publisher.uncertain('s', 2);
    publisher.stage('s', 3, [source.add('main', 3)]);
    publisher.advance('s', 3);
    await follower.idle();
    assert.deepEqual(applied.positions('main'), [1, 2, 3], 'the uncommitted-looking row is delivered too, once');
    assert.deepEqual(source.calls, [['main', 1, 3]]);
    // Later writes go back to plain RDATA.
    publisher.stage('s', 4, [source.add('main', 4)]);
    publisher.advance('s', 4);
    await follower.idle();
    assert.deepEqual(applied.positions('main'), [1, 2, 3, 4]);
    assert.equal(source.calls.length, 1);
    follower.stop();
  });
});
