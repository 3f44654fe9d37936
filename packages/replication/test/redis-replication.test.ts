/**
 * Two OS processes through a real redis-server: a child writer (fixtures/stream-writer-process.ts)
 * and a follower here, which fetches missed rows from the writer over HTTP. Redis is killed and
 * restarted mid-stream; the follower must end with every row exactly once, in order.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import got from 'got';
import type { StreamRow } from '../src/commands.ts';
import { RedisBus } from '../src/redis-bus.ts';
import { StreamFollower, type RowBatch } from '../src/stream-follower.ts';
import { RedisServer } from '../src/testing.ts';

const WRITER_SCRIPT = path.join(import.meta.dirname, 'fixtures', 'stream-writer-process.ts');

interface WriterStats {
  position: number;
  rows: number;
  dropped: number;
  connected: boolean;
}

class WriterProcess {
  readonly proc: ChildProcess;
  readonly base: string;

  private constructor(proc: ChildProcess, port: number) {
    this.proc = proc;
    this.base = `http://127.0.0.1:${port}`;
  }

  static start(redisPort: number, initial: number): Promise<WriterProcess> {
    const proc = spawn(
      process.execPath,
      [WRITER_SCRIPT, '--redis-port', String(redisPort), '--instance', 'writer', '--initial', String(initial)],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    return new Promise((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error('writer process did not start')), 15_000);
      proc.once('exit', (code) => reject(new Error(`writer exited early with ${code}`)));
      proc.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const nl = out.indexOf('\n');
        if (nl < 0) return;
        clearTimeout(timer);
        resolve(new WriterProcess(proc, (JSON.parse(out.slice(0, nl)) as { httpPort: number }).httpPort));
      });
    });
  }

  produce(count: number, intervalMs: number): Promise<unknown> {
    return got.post(`${this.base}/produce?count=${count}&intervalMs=${intervalMs}`).json();
  }

  lose(count: number): Promise<unknown> {
    return got.post(`${this.base}/lose?count=${count}`).json();
  }

  stats(): Promise<WriterStats> {
    return got(`${this.base}/stats`).json<WriterStats>();
  }

  rows(from: number, to: number): Promise<StreamRow[]> {
    return got(`${this.base}/rows?from=${from}&to=${to}`).json<StreamRow[]>();
  }

  async kill(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGKILL');
    await exited;
  }
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('replication over a real Redis between two processes', { timeout: 50_000 }, () => {
  let redis: RedisServer;
  let writer: WriterProcess;
  let bus: RedisBus;
  const follower = new StreamFollower({ retry: { initialDelayMs: 20, maxDelayMs: 200 } });
  const batches: RowBatch[] = [];

  before(async () => {
    redis = await RedisServer.start();
    writer = await WriterProcess.start(redis.port, 5);
    bus = new RedisBus({
      instanceName: 'reader',
      serverName: 'test.local',
      redis: { host: '127.0.0.1', port: redis.port },
      reconnect: { initialDelayMs: 20, maxDelayMs: 150 },
    });
    follower.registerStream({
      stream: 's',
      positions: { writer: 0 },
      fetchRows: (_stream, _writer, from, to) => writer.rows(from, to),
      onRows: (b) => void batches.push(b),
    });
    follower.attach(bus);
    await bus.start();
  });

  after(async () => {
    follower.stop();
    await bus?.stop();
    await writer?.kill();
    await redis?.stop();
  });

  function appliedPositions(): number[] {
    return batches.flatMap((b) => b.rows.map((r) => r['pos'] as number));
  }

  function assertExactlyOnceInOrder(expectedRows: number): void {
    const got = appliedPositions();
    assert.equal(got.length, expectedRows, 'row count');
    assert.equal(new Set(got).size, got.length, 'no duplicates');
    for (let i = 1; i < got.length; i++) assert.ok(got[i - 1]! < got[i]!, `out of order at ${i}: ${got[i - 1]} then ${got[i]}`);
  }

  test('the follower learns the writer position (REPLICATE → POSITION), catches up, then follows RDATA', async () => {
    await until('initial catch-up', () => (follower.position('s', 'writer') ?? 0) >= 5);
    assert.deepEqual(appliedPositions(), [1, 2, 3, 4, 5]);
    assert.ok(batches.every((b) => b.fetched), 'rows written before we started come from fetchRows');

    await writer.produce(60, 3);
    await until('writer done', async () => (await writer.stats()).rows >= 65);
    const { position, rows } = await writer.stats();
    assert.equal(await follower.waitForPosition('s', 'writer', position, 10_000), true);
    assertExactlyOnceInOrder(rows);
    assert.ok(batches.some((b) => !b.fetched), 'live rows arrive as RDATA');
  });

  test('announcements lost on a healthy connection: the next RDATA shows the gap and it is fetched', async () => {
    const before = await writer.stats();
    const fetchedBefore = batches.filter((b) => b.fetched).length;
    await writer.lose(5);
    await writer.produce(40, 3);
    await until('writer done', async () => (await writer.stats()).rows >= before.rows + 40);
    const stats = await writer.stats();
    assert.equal(stats.dropped, before.dropped, 'nothing dropped by the bus itself');
    assert.equal(await follower.waitForPosition('s', 'writer', stats.position, 10_000), true);
    await follower.idle();
    assertExactlyOnceInOrder(stats.rows);
    assert.ok(batches.filter((b) => b.fetched).length > fetchedBefore, 'the lost rows were fetched');
  });

  test('redis killed and restarted while the writer keeps writing: no gap, no duplicate', async () => {
    const before = await writer.stats();
    await writer.produce(600, 4);
    await until('some rows live', async () => (await writer.stats()).rows > before.rows + 20);
    await redis.kill();
    await until('follower sees the outage', () => !bus.connected, 5_000);
    const fetchedBefore = batches.filter((b) => b.fetched).length;
    await new Promise((r) => setTimeout(r, 300)); // the writer keeps writing into the void
    const duringOutage = await writer.stats();
    assert.equal(duringOutage.connected, false);
    await redis.restart();
    await until('follower reconnected', () => bus.connected, 10_000);
    await until('writer done', async () => (await writer.stats()).rows >= before.rows + 600, 20_000);
    const stats = await writer.stats();
    assert.ok(stats.rows > duringOutage.rows + 50, 'the writer kept writing after the restart');
    assert.ok(stats.dropped > 0, 'the writer dropped announcements during the outage');
    assert.equal(await follower.waitForPosition('s', 'writer', stats.position, 10_000), true);
    await follower.idle();
    assertExactlyOnceInOrder(stats.rows);
    assert.ok(batches.filter((b) => b.fetched).length > fetchedBefore, 'the missed rows were fetched');
    assert.equal(follower.position('s', 'writer'), stats.position);
  });
});
