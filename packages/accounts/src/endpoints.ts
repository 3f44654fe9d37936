/**
 * The accounts domain's endpoints, as data. Reads, login and registration may run on generic workers
 * (Synapse's worker docs list them); logouts, refresh, password, deactivation, per-device changes and
 * the Admin API stay on main.
 */
import type { EndpointDecl } from '@hs/http';

const V = { v: 'v3|r0' } as const;
const anyHttp = ['main', 'generic_worker'] as const;
const mainOnly = ['main'] as const;
const client = (path: string) => `/_matrix/client/{v}${path}`;

export const accountsEndpoints: EndpointDecl[] = [
  // Registration
  { name: 'register', method: 'POST', path: client('/register'), params: V, resource: 'client', workers: anyHttp, auth: 'none', cors: true, bodySchema: 'client/register' },
  { name: 'register_available', method: 'GET', path: client('/register/available'), params: V, resource: 'client', workers: anyHttp, auth: 'none', cors: true },
  { name: 'registration_token_validity', method: 'GET', path: '/_matrix/client/v1/register/m.login.registration_token/validity', resource: 'client', workers: anyHttp, auth: 'none', cors: true },

  // Sessions
  { name: 'login_flows', method: 'GET', path: client('/login'), params: V, resource: 'client', workers: anyHttp, auth: 'none', cors: true },
  { name: 'login', method: 'POST', path: client('/login'), params: V, resource: 'client', workers: anyHttp, auth: 'none', cors: true, bodySchema: 'client/login' },
  { name: 'logout', method: 'POST', path: client('/logout'), params: V, resource: 'client', workers: mainOnly, auth: 'user', cors: true },
  { name: 'logout_all', method: 'POST', path: client('/logout/all'), params: V, resource: 'client', workers: mainOnly, auth: 'user', cors: true },
  { name: 'whoami', method: 'GET', path: client('/account/whoami'), params: V, resource: 'client', workers: anyHttp, auth: 'user', cors: true },
  { name: 'refresh', method: 'POST', path: client('/refresh'), params: V, resource: 'client', workers: mainOnly, auth: 'none', cors: true, bodySchema: 'client/refresh' },

  // Account management
  { name: 'account_password', method: 'POST', path: client('/account/password'), params: V, resource: 'client', workers: mainOnly, auth: 'user', cors: true, bodySchema: 'client/account-password' },
  { name: 'account_deactivate', method: 'POST', path: client('/account/deactivate'), params: V, resource: 'client', workers: mainOnly, auth: 'user', cors: true, bodySchema: 'client/account-deactivate' },

  // Devices
  { name: 'devices_list', method: 'GET', path: client('/devices'), params: V, resource: 'client', workers: anyHttp, auth: 'user', cors: true },
  { name: 'device_get', method: 'GET', path: client('/devices/{deviceId}'), params: V, resource: 'client', workers: mainOnly, auth: 'user', cors: true },
  { name: 'device_update', method: 'PUT', path: client('/devices/{deviceId}'), params: V, resource: 'client', workers: mainOnly, auth: 'user', cors: true, bodySchema: 'client/device-update' },
  { name: 'device_delete', method: 'DELETE', path: client('/devices/{deviceId}'), params: V, resource: 'client', workers: mainOnly, auth: 'user', cors: true, body: 'json', bodySchema: 'client/device-delete' },
  { name: 'delete_devices', method: 'POST', path: client('/delete_devices'), params: V, resource: 'client', workers: mainOnly, auth: 'user', cors: true, bodySchema: 'client/delete-devices' },

  // Profiles
  { name: 'profile_get', method: 'GET', path: client('/profile/{userId}'), params: V, resource: 'client', workers: anyHttp, auth: 'none', cors: true },
  { name: 'profile_displayname_get', method: 'GET', path: client('/profile/{userId}/displayname'), params: V, resource: 'client', workers: anyHttp, auth: 'none', cors: true },
  { name: 'profile_displayname_put', method: 'PUT', path: client('/profile/{userId}/displayname'), params: V, resource: 'client', workers: anyHttp, auth: 'user', cors: true, bodySchema: 'client/profile-displayname' },
  { name: 'profile_avatar_url_get', method: 'GET', path: client('/profile/{userId}/avatar_url'), params: V, resource: 'client', workers: anyHttp, auth: 'none', cors: true },
  { name: 'profile_avatar_url_put', method: 'PUT', path: client('/profile/{userId}/avatar_url'), params: V, resource: 'client', workers: anyHttp, auth: 'user', cors: true, bodySchema: 'client/profile-avatar-url' },
  // Any profile key (v1.16, v3 only). Declared after the two fixed keys above, which match first.
  { name: 'profile_field_get', method: 'GET', path: '/_matrix/client/v3/profile/{userId}/{keyName}', resource: 'client', workers: anyHttp, auth: 'none', cors: true },
  { name: 'profile_field_put', method: 'PUT', path: '/_matrix/client/v3/profile/{userId}/{keyName}', resource: 'client', workers: anyHttp, auth: 'user', cors: true, bodySchema: 'client/profile-field' },
  { name: 'profile_field_delete', method: 'DELETE', path: '/_matrix/client/v3/profile/{userId}/{keyName}', resource: 'client', workers: anyHttp, auth: 'user', cors: true },

  // Admin API (Synapse's)
  { name: 'admin_register_nonce', method: 'GET', path: '/_synapse/admin/v1/register', resource: 'admin', workers: mainOnly, auth: 'none', cors: true },
  { name: 'admin_register', method: 'POST', path: '/_synapse/admin/v1/register', resource: 'admin', workers: mainOnly, auth: 'none', cors: true, bodySchema: 'admin/register' },
  { name: 'admin_registration_tokens_list', method: 'GET', path: '/_synapse/admin/v1/registration_tokens', resource: 'admin', workers: mainOnly, auth: 'admin', cors: true },
  { name: 'admin_registration_token_new', method: 'POST', path: '/_synapse/admin/v1/registration_tokens/new', resource: 'admin', workers: mainOnly, auth: 'admin', cors: true, bodySchema: 'admin/registration-token-new' },
  { name: 'admin_registration_token_get', method: 'GET', path: '/_synapse/admin/v1/registration_tokens/{token}', resource: 'admin', workers: mainOnly, auth: 'admin', cors: true },
  { name: 'admin_registration_token_update', method: 'PUT', path: '/_synapse/admin/v1/registration_tokens/{token}', resource: 'admin', workers: mainOnly, auth: 'admin', cors: true, bodySchema: 'admin/registration-token-update' },
  { name: 'admin_registration_token_delete', method: 'DELETE', path: '/_synapse/admin/v1/registration_tokens/{token}', resource: 'admin', workers: mainOnly, auth: 'admin', cors: true },
];
