import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../src/logging.ts';

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
