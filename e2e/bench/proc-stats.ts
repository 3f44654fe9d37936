/**
 * CPU time and memory of the processes under test, read from /proc (Linux). CPU is what a process has
 * used so far; a benchmark takes the difference over its load phase.
 */
import fs from 'node:fs';

/** Kernel clock ticks per second for /proc/<pid>/stat times; 100 on every Linux we run on. */
const TICKS = 100;

interface ProcStat {
  ppid: number;
  /** utime + stime of the process itself (all its threads), in seconds. */
  cpu: number;
  /** cutime + cstime: children that have exited and been waited for, in seconds. */
  childCpu: number;
}

function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may contain spaces and parentheses: fields start after the last ')'.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const n = (i: number) => Number(f[i - 3]);
  return { ppid: n(4), cpu: (n(14) + n(15)) / TICKS, childCpu: (n(16) + n(17)) / TICKS };
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    if (readStat(Number(name))?.ppid === pid) out.push(Number(name));
  }
  return out;
}

/** CPU seconds used by one process (all its threads). */
export function processCpuSeconds(pid: number): number {
  return readStat(pid)?.cpu ?? NaN;
}

/**
 * CPU seconds used by a process and all its children, living or exited (Postgres: the postmaster
 * and every backend, including connections that have closed).
 */
export function treeCpuSeconds(pid: number): number {
  const root = readStat(pid);
  if (!root) return NaN;
  let total = root.cpu + root.childCpu;
  for (const child of childrenOf(pid)) total += readStat(child)?.cpu ?? 0;
  return total;
}

function statusKb(pid: number, file: 'status' | 'smaps_rollup', key: string): number {
  try {
    const text = fs.readFileSync(`/proc/${pid}/${file}`, 'utf8');
    return Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** Resident memory of one process, in MB. */
export function rssMb(pid: number): number {
  return statusKb(pid, 'status', 'VmRSS') / 1024;
}

/**
 * Memory of a process and its children, in MB, as proportional set size: pages shared between
 * processes (Postgres's shared buffers) are split among them instead of counted once per process.
 */
export function treePssMb(pid: number): { mb: number; processes: number } {
  const pids = [pid, ...childrenOf(pid)];
  let kb = 0;
  for (const p of pids) kb += statusKb(p, 'smaps_rollup', 'Pss');
  return { mb: kb / 1024, processes: pids.length };
}

/**
 * Whole-machine CPU counters (all cores, in seconds), to report how busy the box was. Steal (time a
 * virtual machine wanted but the hypervisor gave elsewhere) is kept apart from busy.
 */
export function machineCpu(): { busy: number; steal: number; total: number } {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0] as string;
  // user nice system idle iowait irq softirq steal (guest time is already inside user).
  const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const steal = v[7] ?? 0;
  return { busy: (total - idle - steal) / TICKS, steal: steal / TICKS, total: total / TICKS };
}
