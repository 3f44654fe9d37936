import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLogger, LocalClockText } from '../src/logging.ts';

async function logTo(format: 'text' | 'json'): Promise<string> {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hs-log-')), 'out.log');
  const log = createLogger({ instance: 'generic1', format, file, level: 'info' });
  log.info('user registered', { user: '@a:b' });
  log.debug('not shown at info');
  await new Promise<void>((resolve) => {
    log.on('finish', () => resolve());
    log.end();
  });
  await new Promise((r) => setTimeout(r, 50));
  return fs.readFileSync(file, 'utf8');
}

test('text logs: timestamp, level, instance, message and fields on one line', async () => {
  const out = await logTo('text');
  assert.match(out, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} INFO  \[generic1\] user registered user=@a:b\n$/);
});

test('JSON logs: one object per line with the instance', async () => {
  const out = await logTo('json');
  const line = JSON.parse(out.trim()) as Record<string, unknown>;
  assert.equal(line.message, 'user registered');
  assert.equal(line.instance, 'generic1');
  assert.equal(line.level, 'info');
  assert.equal(line.user, '@a:b');
  assert.ok(!out.includes('not shown'));
});

test('log lines are batched: info waits for the flush, a warning takes everything pending with it', async () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hs-log-')), 'out.log');
  const log = createLogger({ instance: 'main', format: 'text', file, level: 'info' });
  log.info('first');
  log.info('second');
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(fs.readFileSync(file, 'utf8'), '', 'info lines wait for the batch');
  log.warn('trouble');
  await new Promise((r) => setTimeout(r, 30));
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
  assert.deepEqual(lines.map((l) => l.split('] ')[1]), ['first', 'second', 'trouble'], 'in order, written together');
  log.info('later');
  await new Promise((r) => setTimeout(r, 250));
  assert.match(fs.readFileSync(file, 'utf8'), /later\n$/, 'written within the flush period');
  log.end();
});

test('the cached clock text is the local time of every instant, across seconds and days', () => {
  const clock = new LocalClockText();
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const start = new Date(2026, 11, 31, 23, 59, 58, 990).getTime();
  for (const ms of [start, start + 5, start + 9, start + 10, start + 11, start + 1000, start + 1999, start + 2010, start + 86_400_123, start - 1]) {
    const d = new Date(ms);
    const want = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
    assert.equal(clock.format(ms), want);
  }
});
