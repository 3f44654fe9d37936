/**
 * Binding a listener's HTTP server to its addresses. As in Synapse, the default `['::', '0.0.0.0']`
 * works on dual-stack hosts: once `::` is bound (which also takes IPv4), `0.0.0.0` reports
 * EADDRINUSE and is skipped.
 */
import http from 'node:http';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { RequestListener } from 'node:http';

export type ListenAddress = { kind: 'tcp'; port: number; bindAddresses: readonly string[] } | { kind: 'unix'; path: string; mode: number };

export interface BoundListener {
  readonly servers: http.Server[];
  /** Human-readable addresses actually bound, e.g. `127.0.0.1:8008`. */
  readonly addresses: string[];
  /** The TCP port actually bound (useful with port 0 in tests). */
  readonly port: number | undefined;
  close(graceMs: number): Promise<void>;
}

function listenOne(server: http.Server, target: { port: number; host: string } | { path: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    server.once('error', onError);
    const done = () => {
      server.off('error', onError);
      resolve();
    };
    if ('path' in target) server.listen(target.path, done);
    else server.listen(target.port, target.host, done);
  });
}

export async function bindListener(address: ListenAddress, app: RequestListener): Promise<BoundListener> {
  const servers: http.Server[] = [];
  const addresses: string[] = [];
  const make = () => {
    const s = http.createServer({ keepAliveTimeout: 75_000, headersTimeout: 80_000, requestTimeout: 0 }, app);
    return s;
  };
  if (address.kind === 'unix') {
    fs.rmSync(address.path, { force: true });
    const s = make();
    await listenOne(s, { path: address.path });
    fs.chmodSync(address.path, address.mode);
    servers.push(s);
    addresses.push(`unix:${address.path}`);
  } else {
    let port = address.port;
    for (const host of address.bindAddresses) {
      const s = make();
      try {
        await listenOne(s, { port, host });
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE' && host === '0.0.0.0' && servers.length > 0) continue;
        if (code === 'EAFNOSUPPORT' && host === '::' && address.bindAddresses.length > 1) continue;
        for (const other of servers) other.close();
        throw new Error(`cannot listen on ${host.includes(':') ? `[${host}]` : host}:${port}: ${(e as Error).message}`);
      }
      port = (s.address() as AddressInfo).port;
      servers.push(s);
      addresses.push(`${host.includes(':') ? `[${host}]` : host}:${port}`);
    }
  }
  const first = servers[0]?.address();
  return {
    servers,
    addresses,
    port: first && typeof first === 'object' ? first.port : undefined,
    async close(graceMs: number) {
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.close(() => resolve());
              s.closeIdleConnections();
              // Requests still running after the grace period (long-polls) are cut.
              setTimeout(() => s.closeAllConnections(), graceMs).unref();
            }),
        ),
      );
    },
  };
}
