/**
 * The e2ee endpoints as manifest data. Endpoints that write a stream name it as `writer`, so the proxy
 * sends them to that stream's writer; the rest are served by any client-facing process, as Synapse's
 * generic worker serves its "Encryption requests".
 */
import type { EndpointDecl } from '@hs/http';

const everyClientProcess = ['main', 'generic_worker'] as const;
const C = '/_matrix/client/{v}';
const V = { v: 'v3|r0' } as const;
/** Cross-signing key upload exists only under v3 (Synapse serves no r0 form of it). */
const V3 = { v: 'v3' } as const;

function decl(d: Omit<EndpointDecl, 'resource' | 'workers' | 'auth' | 'cors'>): EndpointDecl {
  return { resource: 'client', workers: everyClientProcess, auth: 'user', cors: true, ...d };
}

export const e2eeEndpoints: EndpointDecl[] = [
  decl({ name: 'keys_upload', method: 'POST', path: `${C}/keys/upload`, params: V, writer: 'device_lists', bodySchema: 'client/keys-upload' }),
  decl({ name: 'keys_query', method: 'POST', path: `${C}/keys/query`, params: V, bodySchema: 'client/keys-query' }),
  decl({ name: 'keys_claim', method: 'POST', path: `${C}/keys/claim`, params: V, bodySchema: 'client/keys-claim' }),
  decl({ name: 'keys_changes', method: 'GET', path: `${C}/keys/changes`, params: V }),
  decl({
    name: 'keys_signatures_upload',
    method: 'POST',
    path: `${C}/keys/signatures/upload`,
    params: V,
    writer: 'device_lists',
    bodySchema: 'client/keys-signatures-upload',
  }),
  decl({
    name: 'keys_device_signing_upload',
    method: 'POST',
    path: `${C}/keys/device_signing/upload`,
    params: V3,
    writer: 'device_lists',
    bodySchema: 'client/keys-device-signing-upload',
  }),
  decl({
    name: 'send_to_device',
    method: 'PUT',
    path: `${C}/sendToDevice/{eventType}/{txnId}`,
    params: V,
    writer: 'to_device',
    bodySchema: 'client/send-to-device',
  }),
  decl({ name: 'room_keys_version_create', method: 'POST', path: `${C}/room_keys/version`, params: V, bodySchema: 'client/room-keys-version-create' }),
  decl({ name: 'room_keys_version_current', method: 'GET', path: `${C}/room_keys/version`, params: V }),
  decl({ name: 'room_keys_version_get', method: 'GET', path: `${C}/room_keys/version/{version}`, params: V }),
  decl({
    name: 'room_keys_version_update',
    method: 'PUT',
    path: `${C}/room_keys/version/{version}`,
    params: V,
    bodySchema: 'client/room-keys-version-update',
  }),
  decl({ name: 'room_keys_version_delete', method: 'DELETE', path: `${C}/room_keys/version/{version}`, params: V }),
  decl({ name: 'room_keys_put_all', method: 'PUT', path: `${C}/room_keys/keys`, params: V, bodySchema: 'client/room-keys-all' }),
  decl({ name: 'room_keys_get_all', method: 'GET', path: `${C}/room_keys/keys`, params: V }),
  decl({ name: 'room_keys_delete_all', method: 'DELETE', path: `${C}/room_keys/keys`, params: V }),
  decl({ name: 'room_keys_put_room', method: 'PUT', path: `${C}/room_keys/keys/{roomId}`, params: V, bodySchema: 'client/room-keys-room' }),
  decl({ name: 'room_keys_get_room', method: 'GET', path: `${C}/room_keys/keys/{roomId}`, params: V }),
  decl({ name: 'room_keys_delete_room', method: 'DELETE', path: `${C}/room_keys/keys/{roomId}`, params: V }),
  decl({
    name: 'room_keys_put_session',
    method: 'PUT',
    path: `${C}/room_keys/keys/{roomId}/{sessionId}`,
    params: V,
    bodySchema: 'client/room-keys-session',
  }),
  decl({ name: 'room_keys_get_session', method: 'GET', path: `${C}/room_keys/keys/{roomId}/{sessionId}`, params: V }),
  decl({ name: 'room_keys_delete_session', method: 'DELETE', path: `${C}/room_keys/keys/{roomId}/{sessionId}`, params: V }),
];
