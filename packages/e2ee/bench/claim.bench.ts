/**
 * One-time-key claim throughput: many devices with uploaded keys, `--claimers` concurrent claimers each
 * claiming one key of a random device per request, through the real HTTP handler. Several claimers
 * often hit the same device at once, which is the contention the claim statement must survive.
 * Verifies afterwards that no key was handed out twice.
 *
 *   node packages/e2ee/bench/claim.bench.ts [--seconds 5 --claimers 20 --devices 50 --keys 400]
 */
import { parseArgs } from 'node:util';
import { startTemporaryPostgres } from '@hs/storage/testing';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    claimers: { type: 'string', default: '20' },
    devices: { type: 'string', default: '50' },
    keys: { type: 'string', default: '400' },
  },
});
const seconds = Number(values.seconds);
const claimers = Number(values.claimers);
const deviceCount = Number(values.devices);
const keysPerDevice = Number(values.keys);

const server = process.env.HS_TEST_PG ? undefined : await startTemporaryPostgres();
if (server) process.env.HS_TEST_PG = JSON.stringify(server.target);
const { oneTimeKey, SERVER, startHarness, V3 } = await import('../test/support.ts');
const h = await startHarness();

const owner = `@owner:${SERVER}`;
const devices = Array.from({ length: deviceCount }, (_, i) => h.device(owner, `DEV${i}`));
const claimer = h.device(`@claimer:${SERVER}`, 'CLAIMER');
for (const d of devices) {
  for (let start = 0; start < keysPerDevice; start += 100) {
    const batch: Record<string, unknown> = {};
    for (let i = start; i < Math.min(start + 100, keysPerDevice); i++) batch[`signed_curve25519:k${i}`] = oneTimeKey(d);
    const r = await h.call('POST', `${V3}/keys/upload`, { token: d.token, body: { one_time_keys: batch } });
    if (r.status !== 200) throw new Error(`upload failed: ${JSON.stringify(r.json)}`);
  }
}
console.log(`uploaded ${deviceCount * keysPerDevice} one-time keys on ${deviceCount} devices; ${claimers} claimers for ${seconds}s`);

const seen = new Set<string>();
let duplicates = 0;
let claims = 0;
let empty = 0;
const latencies: number[] = [];
const deadline = Date.now() + seconds * 1000;
const started = process.hrtime.bigint();
await Promise.all(
  Array.from({ length: claimers }, async () => {
    while (Date.now() < deadline) {
      const d = devices[Math.floor(Math.random() * devices.length)] ?? devices[0];
      if (!d) break;
      const t0 = process.hrtime.bigint();
      const r = await h.call('POST', `${V3}/keys/claim`, { token: claimer.token, body: { one_time_keys: { [owner]: { [d.deviceId]: 'signed_curve25519' } } } });
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      const got = Object.keys(r.json.one_time_keys?.[owner]?.[d.deviceId] ?? {});
      if (got.length === 0) empty++;
      for (const k of got) {
        const id = `${d.deviceId}/${k}`;
        if (seen.has(id)) duplicates++;
        seen.add(id);
      }
      claims++;
    }
  }),
);
const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]?.toFixed(2);
console.log(`claims/s: ${(claims / elapsed).toFixed(0)}  (claims ${claims}, keys handed out ${seen.size}, empty ${empty})`);
console.log(`latency ms: p50 ${pct(0.5)}  p95 ${pct(0.95)}  p99 ${pct(0.99)}`);
console.log(`duplicate keys handed out: ${duplicates}`);
await h.close();
await server?.stop();
if (duplicates > 0) process.exit(1);
