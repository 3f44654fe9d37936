/**
 * Start-up time of the single-process default: a cold first start (generate config, initdb, migrate)
 * and warm starts on the same data dir, each measured from spawning the CLI to its "ready" line.
 *
 *   npm run bench:startup [-- --warm 5]
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { HomeserverProcess } from '../../../e2e/support/process.ts';

const { values } = parseArgs({ options: { warm: { type: 'string', default: '5' } } });
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hs-bench-start-'));
fs.chmodSync(dataDir, 0o711);

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

const args = ['start', '--data-dir', dataDir, '--port', String(await freePort()), '--metrics-port', '0'];

async function timeStart(): Promise<number> {
  const t0 = performance.now();
  const p = new HomeserverProcess(args);
  await p.waitFor(/main ready on/, 120_000);
  const ms = performance.now() - t0;
  const { code } = await p.stop('SIGTERM');
  if (code !== 0) throw new Error(`exit code ${code}:\n${p.output}`);
  return ms;
}

try {
  console.log(`cold first start (config + initdb + migrations): ${(await timeStart()).toFixed(0)} ms`);
  const warm: number[] = [];
  for (let i = 0; i < Number(values.warm); i++) warm.push(await timeStart());
  warm.sort((a, b) => a - b);
  console.log(`warm start: median ${warm[Math.floor(warm.length / 2)]?.toFixed(0)} ms, min ${warm[0]?.toFixed(0)} ms, max ${warm.at(-1)?.toFixed(0)} ms (${warm.length} runs)`);
} finally {
  fs.rmSync(dataDir, { recursive: true, force: true });
}
