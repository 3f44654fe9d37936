/**
 * Loopback ports for test servers that must be named before they listen (a fleet's instance_map, a
 * Redis that is restarted on the same port). Between choosing a port and binding it, two things can
 * take it:
 *  - an outgoing connection of any process, when the port lies in the kernel's ephemeral range (what
 *    `listen(0)` hands out) — so ports are chosen below that range, where the kernel never assigns one
 *    by itself;
 *  - another test process choosing the same port — so each choice is claimed with a file created
 *    exclusively under the temp directory, naming the claiming process; a dead process's claims are
 *    taken over, and a process drops its own when it exits.
 */
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const CLAIMS_DIR = path.join(tmpdir(), 'hs-test-ports');
/** Lowest port chosen: above the well-known and most registered services' ports. */
const LOWEST = 10_000;

const claimed = new Set<number>();
let cleanupInstalled = false;

/** A loopback port nothing listens on now, claimed for this process until it exits. */
export async function freePort(): Promise<number> {
  const [low, high] = candidateRange();
  mkdirSync(CLAIMS_DIR, { recursive: true });
  installCleanup();
  for (let attempt = 0; attempt < 1_000; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (claimed.has(port) || !claim(port)) continue;
    if (await bindable(port)) return port;
    release(port);
  }
  throw new Error(`no free loopback port found in ${low}-${high - 1}`);
}

/** Ports the kernel never assigns to outgoing connections: below its ephemeral range. */
function candidateRange(): [number, number] {
  let ephemeralLow = 32_768;
  try {
    const [lowText] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    const parsed = Number(lowText);
    if (Number.isInteger(parsed) && parsed > 0) ephemeralLow = parsed;
  } catch {
    // Not Linux: keep the usual default.
  }
  if (ephemeralLow - LOWEST < 1_000) throw new Error(`the ephemeral port range starts at ${ephemeralLow}: no room below it for test ports`);
  return [LOWEST, ephemeralLow];
}

/** Creates the port's claim file; false when a live process holds it. */
function claim(port: number): boolean {
  const file = path.join(CLAIMS_DIR, String(port));
  for (let tries = 0; tries < 2; tries++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      claimed.add(port);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (holderAlive(file)) return false;
      try {
        unlinkSync(file);
      } catch {
        // Another process took it over first: try to create it once more, it decides.
      }
    }
  }
  return false;
}

function holderAlive(file: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(file, 'utf8'));
  } catch {
    return false;
  }
  // A claim file being written has no pid yet: treat it as held.
  if (!Number.isInteger(pid) || pid <= 0) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function release(port: number): void {
  claimed.delete(port);
  try {
    unlinkSync(path.join(CLAIMS_DIR, String(port)));
  } catch {
    // Already gone.
  }
}

function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on('exit', () => {
    for (const port of [...claimed]) release(port);
  });
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

