/**
 * The client side of shared-secret registration, for `homeserver register-user`: fetch a nonce, sign
 * the request with the shared secret, create the user. Throws with the server's errcode on failure.
 */
import { sharedSecretMac } from './shared-secret-mac.ts';

export interface SharedSecretUser {
  readonly username: string;
  readonly password: string;
  readonly admin: boolean;
  readonly userType?: string;
  readonly displayname?: string;
}

export interface RegisteredUser {
  readonly user_id: string;
  readonly access_token?: string;
  readonly device_id?: string;
  readonly home_server?: string;
}

export class SharedSecretRegistrationError extends Error {
  readonly status: number;
  readonly errcode: string | undefined;
  constructor(status: number, errcode: string | undefined, message: string) {
    super(message);
    this.name = 'SharedSecretRegistrationError';
    this.status = status;
    this.errcode = errcode;
  }
}

async function call(url: string, init: RequestInit): Promise<Record<string, unknown>> {
  const res = await fetch(url, init);
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // Not JSON (a proxy's error page): reported below with the status.
  }
  if (!res.ok) {
    const errcode = typeof json.errcode === 'string' ? json.errcode : undefined;
    const message = typeof json.error === 'string' ? json.error : text.slice(0, 200) || res.statusText;
    throw new SharedSecretRegistrationError(res.status, errcode, `${res.status} ${errcode ?? ''} ${message}`.replace(/\s+/g, ' ').trim());
  }
  return json;
}

export async function registerWithSharedSecret(baseUrl: string, secret: string, user: SharedSecretUser): Promise<RegisteredUser> {
  const url = `${baseUrl.replace(/\/+$/, '')}/_synapse/admin/v1/register`;
  const { nonce } = await call(url, { method: 'GET' });
  if (typeof nonce !== 'string') throw new SharedSecretRegistrationError(500, undefined, 'The server returned no nonce');
  const mac = sharedSecretMac(secret, { nonce, username: user.username, password: user.password, admin: user.admin, userType: user.userType });
  const body = {
    nonce,
    username: user.username,
    password: user.password,
    admin: user.admin,
    mac,
    ...(user.userType ? { user_type: user.userType } : {}),
    ...(user.displayname !== undefined ? { displayname: user.displayname } : {}),
  };
  const result = await call(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (typeof result.user_id !== 'string') throw new SharedSecretRegistrationError(500, undefined, 'The server returned no user_id');
  return result as unknown as RegisteredUser;
}
