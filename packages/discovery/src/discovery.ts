/**
 * What clients and servers ask first: which spec versions we speak (`/_matrix/client/versions`) and the
 * `.well-known` delegation documents. `.well-known` answers only what the operator configured.
 */
import { errors, type JsonObject } from '@hs/core';
import type { EndpointDecl, Handler } from '@hs/http';

/**
 * The client-server spec versions this server satisfies. A version goes here only once every
 * endpoint it requires is implemented and tested; clients use this list to decide what to call.
 */
export const SUPPORTED_CLIENT_VERSIONS: readonly string[] = [];

export interface DiscoveryOptions {
  readonly serverName: string;
  /** `public_baseurl`, when the operator set one: advertised as the client base URL. */
  readonly publicBaseurl: string | null;
  /** `serve_server_wellknown`: delegate federation to port 443 of the server name. */
  readonly serveServerWellknown: boolean;
  readonly extraWellKnownClientContent?: JsonObject;
  readonly unstableFeatures?: Readonly<Record<string, boolean>>;
}

const everyHttpProcess = ['main', 'generic_worker'] as const;

export const discoveryEndpoints: EndpointDecl[] = [
  { name: 'client_versions', method: 'GET', path: '/_matrix/client/versions', resource: 'client', workers: everyHttpProcess, auth: 'none', cors: true },
  { name: 'well_known_client', method: 'GET', path: '/.well-known/matrix/client', resource: 'client', workers: everyHttpProcess, auth: 'none', cors: true },
  { name: 'well_known_server', method: 'GET', path: '/.well-known/matrix/server', resource: 'client', workers: everyHttpProcess, auth: 'none', cors: true },
];

/** `example.org` → `example.org:443`; a server name with an explicit port is delegated as is. */
export function delegatedServer(serverName: string): string {
  const hasPort = serverName.startsWith('[') ? /\]:\d+$/.test(serverName) : /:\d+$/.test(serverName);
  return hasPort ? serverName : `${serverName}:443`;
}

export function createDiscoveryHandlers(opts: DiscoveryOptions): Map<string, Handler> {
  const versions = { versions: [...SUPPORTED_CLIENT_VERSIONS], unstable_features: { ...opts.unstableFeatures } };
  const clientDoc = opts.publicBaseurl
    ? { ...opts.extraWellKnownClientContent, 'm.homeserver': { base_url: opts.publicBaseurl } }
    : undefined;
  const serverDoc = opts.serveServerWellknown ? { 'm.server': delegatedServer(opts.serverName) } : undefined;
  return new Map<string, Handler>([
    ['client_versions', () => ({ body: versions })],
    [
      'well_known_client',
      () => {
        if (!clientDoc) throw errors.notFound('No .well-known/matrix/client configured (set public_baseurl).');
        return { body: clientDoc };
      },
    ],
    [
      'well_known_server',
      () => {
        if (!serverDoc) throw errors.notFound('No .well-known/matrix/server configured (set serve_server_wellknown).');
        return { body: serverDoc, headers: { 'Cache-Control': 'max-age=86400' } };
      },
    ],
  ]);
}
