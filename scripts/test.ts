/**
 * The test command (`npm test`): every package's, app's and e2e test file under Node's own runner,
 * so results are counted. Pass paths or globs to run a subset: `npm test -- packages/core`.
 */
import { spawnSync } from 'node:child_process';
import { globSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const patterns = ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts', 'e2e/**/*.test.ts'];
let files = patterns.flatMap((p) => globSync(p, { cwd: root })).sort();
if (args.length > 0) files = files.filter((f) => args.some((a) => f.startsWith(a) || f.includes(a)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  [
    `--import=${path.join(root, 'scripts/test-report-blocking.ts')}`,
    '--test',
    '--test-concurrency=2',
    `--test-global-setup=${path.join(root, 'scripts/test-global-setup.ts')}`,
    '--test-timeout=300000',
    // Real clients (matrix-js-sdk) leave hundreds of their own timers behind; once a file's tests and
    // hooks are done there is nothing left to wait for.
    '--test-force-exit',
    ...files,
  ],
  { cwd: root, stdio: 'inherit' },
);
process.exit(result.status ?? 1);
