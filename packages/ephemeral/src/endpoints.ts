import type { EndpointDecl } from '@hs/http';

const C = '/_matrix/client/{version}';
const V3 = { version: 'v3|r0' } as const;
/** Typing and presence are old enough to have been under `api/v1` as well. */
const V1 = { version: 'v3|r0|api/v1' } as const;
const anyClientProcess = ['main', 'generic_worker'] as const;

export const ephemeralEndpoints: EndpointDecl[] = [
  {
    name: 'typing_set',
    method: 'PUT',
    path: `${C}/rooms/{roomId}/typing/{userId}`,
    params: V1,
    resource: 'client',
    workers: anyClientProcess,
    writer: 'typing',
    auth: 'user',
    cors: true,
    bodySchema: 'client/typing',
  },
  {
    name: 'receipt_send',
    method: 'POST',
    path: `${C}/rooms/{roomId}/receipt/{receiptType}/{eventId}`,
    params: V3,
    resource: 'client',
    workers: anyClientProcess,
    writer: 'receipts',
    auth: 'user',
    cors: true,
    bodySchema: 'client/receipt',
  },
  {
    name: 'read_markers_set',
    method: 'POST',
    path: `${C}/rooms/{roomId}/read_markers`,
    params: V3,
    resource: 'client',
    workers: anyClientProcess,
    writer: 'receipts',
    auth: 'user',
    cors: true,
    bodySchema: 'client/read-markers',
  },
  {
    name: 'presence_set',
    method: 'PUT',
    path: `${C}/presence/{userId}/status`,
    params: V1,
    resource: 'client',
    workers: anyClientProcess,
    writer: 'presence',
    auth: 'user',
    cors: true,
    bodySchema: 'client/presence',
  },
  {
    name: 'presence_get',
    method: 'GET',
    path: `${C}/presence/{userId}/status`,
    params: V1,
    resource: 'client',
    workers: anyClientProcess,
    auth: 'user',
    cors: true,
  },
];
