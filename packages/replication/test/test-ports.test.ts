import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import test from 'node:test';
import { CLAIMS_DIR, freePort } from '../src/test-ports.ts';

const ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);

test('ports are bindable, below the ephemeral range, and claimed for this process', async () => {
  const ports = await Promise.all(Array.from({ length: 50 }, () => freePort()));
  assert.equal(new Set(ports).size, ports.length);
  for (const port of ports) {
    assert.ok(port < ephemeralLow, `${port} is below ${ephemeralLow}`);
    assert.equal(readFileSync(path.join(CLAIMS_DIR, String(port)), 'utf8'), String(process.pid));
  }
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(ports[0], '127.0.0.1', resolve));
  srv.close();
});

test('processes choosing at once never share a port, and drop their claims when they exit', async () => {
  // Each child claims ports, prints them, and holds its claims until its stdin closes.
  const script = `import { freePort } from ${JSON.stringify(path.resolve('packages/replication/src/test-ports.ts'))};
const ports = []; for (let i = 0; i < 300; i++) ports.push(await freePort());
console.log(JSON.stringify(ports)); process.stdin.resume(); process.stdin.on('end', () => process.exit(0));`;
  const children = [1, 2, 3].map(() => spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] }));
  const lists = await Promise.all(
    children.map(
      (child) =>
        new Promise<number[]>((resolve, reject) => {
          let out = '';
          child.stdout.on('data', (d: Buffer) => {
            out += d.toString();
            if (out.endsWith('\n')) resolve(JSON.parse(out) as number[]);
          });
          child.on('exit', (code) => reject(new Error(`child exited early (${code})`)));
        }),
    ),
  );
  const exited = children.map((child) => new Promise((resolve) => child.on('exit', resolve)));
  for (const child of children) child.stdin.end();
  await Promise.all(exited);
  const all = lists.flat();
  assert.equal(new Set(all).size, all.length, 'no port handed to two processes');
  for (const port of all) assert.equal(existsSync(path.join(CLAIMS_DIR, String(port))), false, `claim on ${port} dropped`);
});
