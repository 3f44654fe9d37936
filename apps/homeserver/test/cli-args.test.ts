import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { integerOption, parseArgs, UsageError } from '../src/args.ts';
import { readLogConfig } from '../src/log-config.ts';

test('several -c files are kept in order, options and flags parsed', () => {
  const a = parseArgs(['routes', '-c', 'a.yaml', '--config-path', 'b.yaml', '-w', 'w1.yaml', '-w', 'w2.yaml', '--format=json', '--force'], new Set(['force']));
  assert.equal(a.command, 'routes');
  assert.deepEqual(a.configs, ['a.yaml', 'b.yaml']);
  assert.deepEqual(a.options.get('worker'), ['w1.yaml', 'w2.yaml']);
  assert.deepEqual(a.options.get('format'), ['json']);
  assert.ok(a.flags.has('force'));
});

test('usage errors are typed and say what is wrong', () => {
  assert.throws(() => parseArgs(['start', '-c'], new Set()), (e: Error) => e instanceof UsageError && /-c needs a file path/.test(e.message));
  assert.throws(() => parseArgs(['start', '-x'], new Set()), /unknown option -x/);
  assert.throws(() => parseArgs(['start', 'extra'], new Set()), /unexpected argument extra/);
  const args = parseArgs(['start', '--port', '99999'], new Set());
  assert.throws(() => integerOption(args, 'port', 1, 65535), /--port must be an integer from 1 to 65535, got "99999"/);
  assert.equal(integerOption(parseArgs(['start', '--port', '8448'], new Set()), 'port', 1, 65535), 8448);
});

test('log_config: our short form, a Synapse dictConfig, and clear errors', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hs-logcfg-'));
  const ours = path.join(dir, 'ours.yaml');
  fs.writeFileSync(ours, 'level: debug\nformat: json\nfile: /tmp/x.log\n');
  assert.deepEqual(readLogConfig(ours, 'main'), { instance: 'main', level: 'debug', format: 'json', file: '/tmp/x.log' });
  const synapse = path.join(dir, 'synapse.yaml');
  fs.writeFileSync(
    synapse,
    'version: 1\nhandlers:\n  file:\n    class: logging.handlers.RotatingFileHandler\n    filename: /var/log/hs.log\nroot:\n  level: WARNING\n  handlers: [file]\n',
  );
  assert.deepEqual(readLogConfig(synapse, 'w1'), { instance: 'w1', level: 'warn', format: 'text', file: '/var/log/hs.log' });
  const bad = path.join(dir, 'bad.yaml');
  fs.writeFileSync(bad, 'level: loud\n');
  assert.throws(() => readLogConfig(bad, 'main'), /log_config: level "loud"/);
  assert.throws(() => readLogConfig(path.join(dir, 'missing.yaml'), 'main'), /log_config: cannot read/);
  assert.deepEqual(readLogConfig(null, 'main'), { instance: 'main' });
});
