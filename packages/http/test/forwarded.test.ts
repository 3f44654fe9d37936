import test from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { silentLogger, type Logger } from '@hs/core';
import { createListenerApp } from '../src/app.ts';
import { Manifest } from '../src/manifest.ts';
import { createHttpMetrics, createMetricsRegistry } from '../src/metrics.ts';
import type { Handler } from '../src/handler.ts';

async function serve(xForwarded: boolean, lines: string[]) {
  const log: Logger = { ...silentLogger, info: (m) => lines.push(m) };
  const app = createListenerApp({
    manifest: new Manifest([{ name: 'ip', method: 'GET', path: '/ip', resource: 'client', workers: ['main'], auth: 'none' }]),
    handlers: new Map<string, Handler>([['ip', (ctx) => ({ body: { ip: ctx.req.ip ?? null, proto: ctx.req.protocol } })]]),
    kind: 'main',
    resources: new Set(['client']),
    instance: 't',
    log,
    metrics: createHttpMetrics(createMetricsRegistry('t')),
    xForwarded,
  });
  const server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const headers = { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https' };

test('with x_forwarded the client address and scheme come from the proxy headers, and are logged', async () => {
  const lines: string[] = [];
  const { server, base } = await serve(true, lines);
  try {
    const body = await (await fetch(`${base}/ip?access_token=secret`, { headers })).json();
    assert.deepEqual(body, { ip: '203.0.113.7', proto: 'https' });
    await new Promise((r) => setTimeout(r, 20));
    const line = lines.find((l) => l.includes('GET /ip'));
    assert.ok(line?.startsWith('203.0.113.7 GET /ip?access_token=<redacted> 200 '), line);
  } finally {
    server.close();
  }
});

test('without x_forwarded the headers are ignored (a client cannot spoof its address)', async () => {
  const lines: string[] = [];
  const { server, base } = await serve(false, lines);
  try {
    const body = (await (await fetch(`${base}/ip`, { headers })).json()) as { ip: string; proto: string };
    assert.match(body.ip, /127\.0\.0\.1/);
    assert.equal(body.proto, 'http');
  } finally {
    server.close();
  }
});
