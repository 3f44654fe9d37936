/**
 * /sync as data: served by main and generic workers, balanced by access token so a device's long-polls
 * (and its lazy-loading memory) keep going to the same process.
 */
import type { EndpointDecl } from '@hs/http';

export const syncEndpoints: EndpointDecl[] = [
  {
    name: 'sync',
    method: 'GET',
    path: '/_matrix/client/{v}/sync',
    params: { v: 'v3|r0' },
    resource: 'client',
    workers: ['main', 'generic_worker'],
    balance: 'access_token',
    auth: 'user',
    cors: true,
  },
];
