import type { EndpointDecl } from '@hs/http';

const C = '/_matrix/client/{version}';
const V3 = { version: 'v3|r0' } as const;
const V3_ONLY = { version: 'v3' } as const;
const anyClientProcess = ['main', 'generic_worker'] as const;
/** Synapse serves OpenID tokens and reports on the main process only. */
const mainOnly = ['main'] as const;

const base = { resource: 'client', auth: 'user', cors: true } as const;

export const accountDataEndpoints: EndpointDecl[] = [
  { ...base, name: 'account_data_get', method: 'GET', path: `${C}/user/{userId}/account_data/{type}`, params: V3, workers: anyClientProcess },
  { ...base, name: 'account_data_set', method: 'PUT', path: `${C}/user/{userId}/account_data/{type}`, params: V3, workers: anyClientProcess, writer: 'account_data' },
  { ...base, name: 'room_account_data_get', method: 'GET', path: `${C}/user/{userId}/rooms/{roomId}/account_data/{type}`, params: V3, workers: anyClientProcess },
  { ...base, name: 'room_account_data_set', method: 'PUT', path: `${C}/user/{userId}/rooms/{roomId}/account_data/{type}`, params: V3, workers: anyClientProcess, writer: 'account_data' },
  { ...base, name: 'room_tags_get', method: 'GET', path: `${C}/user/{userId}/rooms/{roomId}/tags`, params: V3, workers: anyClientProcess },
  { ...base, name: 'room_tag_set', method: 'PUT', path: `${C}/user/{userId}/rooms/{roomId}/tags/{tag}`, params: V3, workers: anyClientProcess, writer: 'account_data', bodySchema: 'client/tag' },
  { ...base, name: 'room_tag_delete', method: 'DELETE', path: `${C}/user/{userId}/rooms/{roomId}/tags/{tag}`, params: V3, workers: anyClientProcess, writer: 'account_data' },
  { ...base, name: 'filter_create', method: 'POST', path: `${C}/user/{userId}/filter`, params: V3, workers: anyClientProcess, bodySchema: 'client/filter' },
  { ...base, name: 'filter_get', method: 'GET', path: `${C}/user/{userId}/filter/{filterId}`, params: V3, workers: anyClientProcess },
  { ...base, name: 'capabilities', method: 'GET', path: `${C}/capabilities`, params: V3, workers: anyClientProcess },
  { ...base, name: 'openid_request_token', method: 'POST', path: `${C}/user/{userId}/openid/request_token`, params: V3, workers: mainOnly, bodySchema: 'client/openid-request' },
  { ...base, name: 'report_event', method: 'POST', path: `${C}/rooms/{roomId}/report/{eventId}`, params: V3, workers: mainOnly, bodySchema: 'client/report-event' },
  { ...base, name: 'report_room', method: 'POST', path: `${C}/rooms/{roomId}/report`, params: V3_ONLY, workers: mainOnly, bodySchema: 'client/report-room' },
  { ...base, name: 'report_user', method: 'POST', path: `${C}/users/{userId}/report`, params: V3_ONLY, workers: mainOnly, bodySchema: 'client/report-room' },
];
