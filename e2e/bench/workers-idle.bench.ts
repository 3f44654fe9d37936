/**
 * `npm run bench:workers-idle`: what replication costs a worker that has nothing to do. Starts a fleet
 * (main + generic workers + event persisters + a stream writer, Redis, nginx), lets it settle, then
 * measures each process's CPU% and RSS over an idle window. Synapse's idle workers have been reported
 * at ~20% CPU; the target here is ≤ 1%.
 *
 *   npm run bench:workers-idle -- --seconds 30
 */
import { parseArgs } from 'node:util';
import { Fleet } from '../support/fleet.ts';
import { processCpuSeconds, rssMb } from './proc-stats.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '30' }, settle: { type: 'string', default: '10' } } });
const SECONDS = Number(values.seconds);

const fleet = await Fleet.start({ genericWorkers: 2, eventPersisters: 2, streamWriter: true });
try {
  console.log(`fleet up; settling for ${values.settle} s, then measuring ${SECONDS} s of idleness…`);
  await new Promise((r) => setTimeout(r, Number(values.settle) * 1000));
  const pids = [...fleet.processes].map(([name, p]) => [name, p.child.pid as number] as const);
  const before = new Map(pids.map(([name, pid]) => [name, processCpuSeconds(pid)]));
  const started = performance.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const elapsed = (performance.now() - started) / 1000;
  console.log('process      CPU%    RSS MB');
  for (const [name, pid] of pids) {
    const cpu = ((processCpuSeconds(pid) - (before.get(name) as number)) / elapsed) * 100;
    console.log(`${name.padEnd(12)} ${cpu.toFixed(2).padStart(5)}  ${rssMb(pid).toFixed(0).padStart(7)}`);
  }
} finally {
  await fleet.stop();
}
