/**
 * `POST /register` (user-interactive: `m.login.dummy`, preceded by `m.login.registration_token` when
 * the server requires a token; or `kind=guest`), `GET /register/available` and the registration-token
 * validity check. Username problems are reported before any UIA round, as the spec asks; the
 * password is hashed once and kept (hashed) with the UIA session, so later rounds need not resend it.
 */
import { MatrixError, errors } from '@hs/core';
import { queryString, type Handler, type RequestContext } from '@hs/http';
import { clock, type AccountsDeps } from './deps.ts';
import { hashPassword } from './password-hash.ts';
import { completeRegistrationTokenUse, registrationTokenIsValid } from './registration-tokens.ts';
import { MAX_DEVICE_DISPLAY_NAME_LENGTH, MAX_DEVICE_ID_LENGTH, issueLogin, loginResponse } from './sessions.ts';
import { LOGIN_DUMMY, LOGIN_REGISTRATION_TOKEN, UiaIncompleteError, type Flow, type UserInteractiveAuth } from './uia.ts';
import { checkNewLocalpart } from './user-id.ts';
import { generateLocalpart, insertUser, userIdTaken } from './users-store.ts';

/** Synapse refuses longer passwords (hashing cost is proportional to length). */
export const MAX_PASSWORD_LENGTH = 512;

interface RegisterBody {
  username?: string;
  password?: string;
  device_id?: string;
  initial_device_display_name?: string;
  inhibit_login?: boolean;
  refresh_token?: boolean;
  auth?: { session?: string };
}

export function checkPasswordLength(password: string): void {
  if (password.length > MAX_PASSWORD_LENGTH) throw errors.invalidParam(`Password too long (max ${MAX_PASSWORD_LENGTH} characters)`);
}

export function checkDeviceId(deviceId: unknown): string | undefined {
  if (deviceId === undefined) return undefined;
  if (typeof deviceId !== 'string' || deviceId === '' || deviceId.length > MAX_DEVICE_ID_LENGTH) {
    throw errors.invalidParam(`device_id must be a non-empty string of at most ${MAX_DEVICE_ID_LENGTH} characters`);
  }
  return deviceId;
}

export function registrationFlows(deps: AccountsDeps): Flow[] {
  return deps.registrationRequiresToken ? [[LOGIN_REGISTRATION_TOKEN, LOGIN_DUMMY]] : [[LOGIN_DUMMY]];
}

export function registrationHandlers(deps: AccountsDeps, uia: UserInteractiveAuth): Record<string, Handler> {
  const now = clock(deps);
  const flows = registrationFlows(deps);

  async function registerGuest(ctx: RequestContext) {
    if (!deps.allowGuestAccess) throw errors.forbidden('Guest access is disabled');
    const body = (ctx.body ?? {}) as RegisterBody;
    const localpart = await generateLocalpart(deps.sql, deps.serverName);
    const userId = `@${localpart}:${deps.serverName}`;
    await deps.sql.begin((tx) => insertUser(tx, { userId, passwordHash: null, isGuest: true, displayname: localpart, now: now() }));
    // Guests get a server-chosen device and no refresh token; only the display name is taken from the body.
    const login = await issueLogin(deps, { userId, initialDisplayName: body.initial_device_display_name });
    return { body: loginResponse(userId, deps.serverName, login) };
  }

  async function register(ctx: RequestContext) {
    const kind = queryString(ctx.req, 'kind') ?? 'user';
    if (kind === 'guest') return registerGuest(ctx);
    if (kind !== 'user') throw new MatrixError(400, 'M_UNRECOGNIZED', `Do not understand membership kind: ${kind}`);
    if (!deps.enableRegistration) throw errors.forbidden('Registration has been disabled');

    const body = { ...((ctx.body ?? {}) as RegisterBody) };
    if (body.password !== undefined) checkPasswordLength(body.password);
    checkDeviceId(body.device_id);
    // Some clients resend only the display name in later rounds, which would wipe the stored
    // parameters (Synapse works around the same bug the same way).
    if (body.initial_device_display_name !== undefined && body.password === undefined) delete body.initial_device_display_name;
    if (body.initial_device_display_name !== undefined) {
      body.initial_device_display_name = body.initial_device_display_name.slice(0, MAX_DEVICE_DISPLAY_NAME_LENGTH);
    }

    const sessionId = typeof body.auth?.session === 'string' ? body.auth.session : undefined;
    const earlier = sessionId ? await uia.getServerData(sessionId) : undefined;
    const alreadyRegistered = typeof earlier?.registered_user_id === 'string' ? earlier.registered_user_id : undefined;
    if (body.username !== undefined) {
      const userId = checkNewLocalpart(body.username.toLowerCase(), deps.serverName);
      if (alreadyRegistered !== undefined && userId !== alreadyRegistered) {
        throw new MatrixError(400, 'M_UNKNOWN', 'A different user ID has already been registered for this session');
      }
      if (userId !== alreadyRegistered && (await userIdTaken(deps.sql, userId))) {
        throw new MatrixError(400, 'M_USER_IN_USE', 'User ID already taken.');
      }
    }

    let result;
    try {
      result = await uia.check({
        req: ctx.req,
        body,
        flows,
        description: 'register a new account',
        sensitiveFields: ['password'],
        storedFields: ['username', 'device_id', 'initial_device_display_name', 'inhibit_login', 'refresh_token'],
      });
    } catch (e) {
      if (e instanceof UiaIncompleteError && body.password !== undefined) {
        const data = await uia.getServerData(e.sessionId);
        if (data && typeof data.password_hash !== 'string') {
          await uia.setServerData(e.sessionId, { password_hash: await hashPassword(body.password, deps.passwordHashing) });
        }
      }
      throw e;
    }

    const params = result.params as RegisterBody;
    const server = (await uia.getServerData(result.sessionId)) ?? {};
    let userId = typeof server.registered_user_id === 'string' ? server.registered_user_id : undefined;
    if (userId === undefined) {
      const passwordHash =
        body.password !== undefined
          ? await hashPassword(body.password, deps.passwordHashing)
          : typeof server.password_hash === 'string'
            ? server.password_hash
            : undefined;
      if (passwordHash === undefined) throw errors.missingParam('Missing params: password');
      const desired = typeof params.username === 'string' ? params.username.toLowerCase() : undefined;
      const localpart = desired ?? (await generateLocalpart(deps.sql, deps.serverName));
      const newUserId = desired !== undefined ? checkNewLocalpart(desired, deps.serverName) : `@${localpart}:${deps.serverName}`;
      const heldToken = typeof server.registration_token === 'string' && server.registration_token_used !== true ? server.registration_token : undefined;
      await deps.sql.begin(async (tx) => {
        await insertUser(tx, { userId: newUserId, passwordHash, displayname: localpart, now: now() });
        if (heldToken !== undefined) await completeRegistrationTokenUse(tx, heldToken);
        await uia.setServerData(result.sessionId, { registered_user_id: newUserId, ...(heldToken !== undefined ? { registration_token_used: true } : {}) }, tx);
      });
      userId = newUserId;
    }

    if (params.inhibit_login === true) return { body: { user_id: userId, home_server: deps.serverName } };
    const login = await issueLogin(deps, {
      userId,
      deviceId: checkDeviceId(params.device_id),
      initialDisplayName: typeof params.initial_device_display_name === 'string' ? params.initial_device_display_name : undefined,
      wantRefreshToken: params.refresh_token === true,
    });
    return { body: loginResponse(userId, deps.serverName, login) };
  }

  return {
    register,
    register_available: async (ctx) => {
      if (!deps.enableRegistration) throw errors.forbidden('Registration has been disabled');
      const username = queryString(ctx.req, 'username');
      if (username === undefined) throw errors.missingParam('Missing query parameter: username');
      const userId = checkNewLocalpart(username, deps.serverName);
      if (await userIdTaken(deps.sql, userId)) throw new MatrixError(400, 'M_USER_IN_USE', 'User ID already taken.');
      return { body: { available: true } };
    },
    registration_token_validity: async (ctx) => {
      if (!deps.enableRegistration) throw errors.forbidden('Registration has been disabled');
      const token = queryString(ctx.req, 'token');
      if (token === undefined) throw errors.missingParam('Missing query parameter: token');
      return { body: { valid: await registrationTokenIsValid(deps.sql, token, now()) } };
    },
  };
}
