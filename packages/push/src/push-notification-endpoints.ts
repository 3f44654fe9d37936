/**
 * GET /notifications and the pusher endpoints (client-server API › Push Notifications). Synapse's
 * generic worker serves none of them, so they stay on main; setting pushers writes the `pushers` stream.
 */
import type { EndpointDecl } from '@hs/http';

const params = { version: 'v3|r0' };
const read = { resource: 'client', workers: ['main'], auth: 'user', cors: true, params } as const;

export const pushNotificationEndpoints: EndpointDecl[] = [
  { name: 'notifications_get', method: 'GET', path: '/_matrix/client/{version}/notifications', ...read },
  { name: 'pushers_get', method: 'GET', path: '/_matrix/client/{version}/pushers', ...read },
  { name: 'pushers_set', method: 'POST', path: '/_matrix/client/{version}/pushers/set', ...read, writer: 'pushers', bodySchema: 'client/pusher-set' },
];
