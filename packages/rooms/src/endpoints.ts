/**
 * The rooms domain's endpoints, as data. Synapse's worker docs let generic workers serve all of them
 * except /forget; event-writing endpoints under /rooms/{roomId}/ are balanced by room so that one
 * process builds each room's events (see event-creator.ts).
 */
import type { EndpointDecl } from '@hs/http';

const V = { v: 'v3|r0' } as const;
const anyHttp = ['main', 'generic_worker'] as const;
const mainOnly = ['main'] as const;
const C = '/_matrix/client/{v}';
const base = { params: V, resource: 'client', auth: 'user', cors: true } as const;
const write = { ...base, writer: 'events' } as const;
const roomWrite = { ...write, balance: 'room' } as const;

export const roomsEndpoints: EndpointDecl[] = [
  { ...write, name: 'create_room', method: 'POST', path: `${C}/createRoom`, workers: anyHttp, bodySchema: 'client/create-room' },

  // Sending
  { ...roomWrite, name: 'room_send', method: 'PUT', path: `${C}/rooms/{roomId}/send/{eventType}/{txnId}`, workers: anyHttp },
  // State: an empty state key is the path without its last segment, with or without the slash.
  { ...base, name: 'room_state', method: 'GET', path: `${C}/rooms/{roomId}/state`, workers: anyHttp },
  { ...base, name: 'room_state_get', method: 'GET', path: `${C}/rooms/{roomId}/state/{eventType}`, workers: anyHttp },
  { ...base, name: 'room_state_get_slash', method: 'GET', path: `${C}/rooms/{roomId}/state/{eventType}/`, workers: anyHttp },
  { ...base, name: 'room_state_get_key', method: 'GET', path: `${C}/rooms/{roomId}/state/{eventType}/{stateKey}`, workers: anyHttp },
  { ...roomWrite, name: 'room_state_put', method: 'PUT', path: `${C}/rooms/{roomId}/state/{eventType}`, workers: anyHttp },
  { ...roomWrite, name: 'room_state_put_slash', method: 'PUT', path: `${C}/rooms/{roomId}/state/{eventType}/`, workers: anyHttp },
  { ...roomWrite, name: 'room_state_put_key', method: 'PUT', path: `${C}/rooms/{roomId}/state/{eventType}/{stateKey}`, workers: anyHttp },
  { ...base, name: 'room_event', method: 'GET', path: `${C}/rooms/{roomId}/event/{eventId}`, workers: anyHttp },

  // Membership
  { ...roomWrite, name: 'room_join', method: 'POST', path: `${C}/rooms/{roomId}/join`, workers: anyHttp, bodySchema: 'client/room-join' },
  { ...write, name: 'join', method: 'POST', path: `${C}/join/{roomIdOrAlias}`, workers: anyHttp, bodySchema: 'client/room-join' },
  { ...write, name: 'knock', method: 'POST', path: `${C}/knock/{roomIdOrAlias}`, workers: anyHttp, bodySchema: 'client/room-membership-reason' },
  { ...roomWrite, name: 'room_invite', method: 'POST', path: `${C}/rooms/{roomId}/invite`, workers: anyHttp, bodySchema: 'client/room-membership-target' },
  { ...roomWrite, name: 'room_leave', method: 'POST', path: `${C}/rooms/{roomId}/leave`, workers: anyHttp, bodySchema: 'client/room-membership-reason' },
  { ...roomWrite, name: 'room_kick', method: 'POST', path: `${C}/rooms/{roomId}/kick`, workers: anyHttp, bodySchema: 'client/room-membership-target' },
  { ...roomWrite, name: 'room_ban', method: 'POST', path: `${C}/rooms/{roomId}/ban`, workers: anyHttp, bodySchema: 'client/room-membership-target' },
  { ...roomWrite, name: 'room_unban', method: 'POST', path: `${C}/rooms/{roomId}/unban`, workers: anyHttp, bodySchema: 'client/room-membership-target' },
  { ...base, name: 'room_forget', method: 'POST', path: `${C}/rooms/{roomId}/forget`, workers: mainOnly },

  // Membership reads
  { ...base, name: 'joined_rooms', method: 'GET', path: `${C}/joined_rooms`, workers: anyHttp },
  { ...base, name: 'room_joined_members', method: 'GET', path: `${C}/rooms/{roomId}/joined_members`, workers: anyHttp },
  { ...base, name: 'room_members', method: 'GET', path: `${C}/rooms/{roomId}/members`, workers: anyHttp },
];
