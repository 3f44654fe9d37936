/**
 * The room API's endpoints, as data. Workers follow Synapse's generic worker list: /messages (by
 * room), /context, /relations, /threads, /timestamp_to_event, /rooms/{id}/aliases, /search,
 * /publicRooms, /room_summary, /user_directory/search and /redact (an event send, by room) may run on
 * any generic worker; the alias and published-directory writes and /upgrade stay on main.
 */
import type { EndpointDecl } from '@hs/http';

const V = { v: 'v3|r0' } as const;
const anyHttp = ['main', 'generic_worker'] as const;
const mainOnly = ['main'] as const;
const C = '/_matrix/client/{v}';
const C1 = '/_matrix/client/v1';
const base = { params: V, resource: 'client', auth: 'user', cors: true } as const;
const v1 = { resource: 'client', auth: 'user', cors: true } as const;
const anon = { ...base, auth: 'none' } as const;

export const roomApiEndpoints: EndpointDecl[] = [
  // Reading the timeline
  { ...base, name: 'room_messages', method: 'GET', path: `${C}/rooms/{roomId}/messages`, workers: anyHttp, balance: 'room' },
  { ...base, name: 'room_context', method: 'GET', path: `${C}/rooms/{roomId}/context/{eventId}`, workers: anyHttp },
  { ...v1, name: 'room_relations', method: 'GET', path: `${C1}/rooms/{roomId}/relations/{eventId}`, workers: anyHttp },
  { ...v1, name: 'room_relations_type', method: 'GET', path: `${C1}/rooms/{roomId}/relations/{eventId}/{relType}`, workers: anyHttp },
  {
    ...v1,
    name: 'room_relations_type_event',
    method: 'GET',
    path: `${C1}/rooms/{roomId}/relations/{eventId}/{relType}/{eventType}`,
    workers: anyHttp,
  },
  { ...v1, name: 'room_threads', method: 'GET', path: `${C1}/rooms/{roomId}/threads`, workers: anyHttp },
  { ...v1, name: 'room_timestamp_to_event', method: 'GET', path: `${C1}/rooms/{roomId}/timestamp_to_event`, workers: anyHttp },

  // Redaction
  {
    ...base,
    name: 'room_redact',
    method: 'PUT',
    path: `${C}/rooms/{roomId}/redact/{eventId}/{txnId}`,
    workers: anyHttp,
    writer: 'events',
    balance: 'room',
    bodySchema: 'client/redact',
  },

  // Aliases
  { ...anon, name: 'directory_alias_get', method: 'GET', path: `${C}/directory/room/{roomAlias}`, workers: mainOnly },
  { ...base, name: 'directory_alias_put', method: 'PUT', path: `${C}/directory/room/{roomAlias}`, workers: mainOnly, bodySchema: 'client/directory-alias' },
  { ...base, name: 'directory_alias_delete', method: 'DELETE', path: `${C}/directory/room/{roomAlias}`, workers: mainOnly, writer: 'events' },
  { ...base, name: 'room_aliases', method: 'GET', path: `${C}/rooms/{roomId}/aliases`, workers: anyHttp },

  // Published room directory
  { ...anon, name: 'directory_visibility_get', method: 'GET', path: `${C}/directory/list/room/{roomId}`, workers: mainOnly },
  {
    ...base,
    name: 'directory_visibility_put',
    method: 'PUT',
    path: `${C}/directory/list/room/{roomId}`,
    workers: mainOnly,
    bodySchema: 'client/directory-visibility',
  },
  { ...anon, name: 'public_rooms_get', method: 'GET', path: `${C}/publicRooms`, workers: anyHttp },
  { ...base, name: 'public_rooms_post', method: 'POST', path: `${C}/publicRooms`, workers: anyHttp, bodySchema: 'client/public-rooms' },

  // Room summaries (v1.15): signing in is optional, the handler authenticates when a token is given.
  { ...v1, name: 'room_summary', method: 'GET', path: `${C1}/room_summary/{roomIdOrAlias}`, workers: anyHttp, auth: 'none' },

  // Room lifecycle
  { ...base, name: 'room_upgrade', method: 'POST', path: `${C}/rooms/{roomId}/upgrade`, workers: mainOnly, writer: 'events', bodySchema: 'client/room-upgrade' },

  // Search
  { ...base, name: 'search', method: 'POST', path: `${C}/search`, workers: anyHttp, bodySchema: 'client/search' },
  { ...base, name: 'user_directory_search', method: 'POST', path: `${C}/user_directory/search`, workers: anyHttp, bodySchema: 'client/user-directory-search' },
];
