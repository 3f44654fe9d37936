/**
 * Test support for the accounts package: a migrated database, the accounts endpoints served over real
 * HTTP, a movable clock, recorded hooks, and small request helpers.
 */
import { silentLogger } from '@hs/core';
import { startTestApp, type TestApp } from '@hs/http/testing';
import { createTestDatabase, type TestDatabase } from '@hs/storage/testing';
import { accountsEndpoints } from '../src/endpoints.ts';
import { createAccountsHandlers } from '../src/handlers.ts';
import { createAuthenticator, type AccountsAuthenticator } from '../src/authenticator.ts';
import type { AccountsDeps, Profile } from '../src/deps.ts';
import { UserInteractiveAuth } from '../src/uia.ts';

export const SERVER = 'test.local';
export const SECRET = 'sekrit-shared';

export interface Harness {
  readonly db: TestDatabase;
  readonly app: TestApp;
  readonly deps: AccountsDeps;
  readonly auth: AccountsAuthenticator;
  readonly uia: UserInteractiveAuth;
  readonly hooks: {
    deactivated: string[];
    devices: { userId: string; deviceIds: string[] }[];
    profiles: { userId: string; profile: Profile }[];
  };
  /** The clock every component reads; tests move it forward. */
  clock: { now: number };
  call(method: string, path: string, opts?: { body?: unknown; token?: string; raw?: string; headers?: Record<string, string> }): Promise<Res>;
  close(): Promise<void>;
}

export interface Res {
  status: number;
  json: Record<string, unknown>;
}

export async function startHarness(overrides: Partial<AccountsDeps> = {}, shared?: { db: TestDatabase }): Promise<Harness> {
  const db = shared?.db ?? (await createTestDatabase());
  const clock = { now: Date.now() };
  const hooks: Harness['hooks'] = { deactivated: [], devices: [], profiles: [] };
  const deps: AccountsDeps = {
    sql: db.sql,
    serverName: SERVER,
    log: silentLogger,
    enableRegistration: true,
    registrationRequiresToken: false,
    allowGuestAccess: true,
    registrationSharedSecret: SECRET,
    passwordHashing: { N: 1024 },
    now: () => clock.now,
    onDeactivated: (userId) => void hooks.deactivated.push(userId),
    onDevicesChanged: (userId, deviceIds) => void hooks.devices.push({ userId, deviceIds: [...deviceIds] }),
    onProfileChanged: (userId, profile) => void hooks.profiles.push({ userId, profile }),
    ...overrides,
  };
  const uia = new UserInteractiveAuth(deps);
  const auth = createAuthenticator(deps);
  const app = await startTestApp({ endpoints: accountsEndpoints, handlers: createAccountsHandlers(deps, uia), authenticate: auth });
  return {
    db,
    app,
    deps,
    auth,
    uia,
    hooks,
    clock,
    async call(method, path, opts = {}) {
      const headers: Record<string, string> = { ...opts.headers };
      if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
      const res = await fetch(app.baseUrl + path, {
        method,
        headers,
        body: opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)),
      });
      const text = await res.text();
      return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
    },
    async close() {
      await auth.close();
      await app.close();
      if (!shared) await db.close();
    },
  };
}

/** Register a user through /register with the dummy flow; returns the login response. */
export async function register(
  h: Harness,
  username: string,
  password = 'correct horse',
  extra: Record<string, unknown> = {},
): Promise<{ user_id: string; access_token: string; device_id: string; refresh_token?: string; expires_in_ms?: number }> {
  const first = await h.call('POST', '/_matrix/client/v3/register', { body: { username, password, ...extra } });
  if (first.status !== 401) throw new Error(`expected 401, got ${first.status} ${JSON.stringify(first.json)}`);
  const done = await h.call('POST', '/_matrix/client/v3/register', {
    body: { username, password, ...extra, auth: { type: 'm.login.dummy', session: first.json.session } },
  });
  if (done.status !== 200) throw new Error(`registration failed: ${done.status} ${JSON.stringify(done.json)}`);
  return done.json as never;
}

export async function login(h: Harness, user: string, password = 'correct horse', extra: Record<string, unknown> = {}): Promise<Res> {
  return h.call('POST', '/_matrix/client/v3/login', {
    body: { type: 'm.login.password', identifier: { type: 'm.id.user', user }, password, ...extra },
  });
}

/** The auth dict proving the user's password, for UIA. */
export function passwordAuth(user: string, session: unknown, password = 'correct horse'): Record<string, unknown> {
  return { type: 'm.login.password', identifier: { type: 'm.id.user', user }, password, session };
}
