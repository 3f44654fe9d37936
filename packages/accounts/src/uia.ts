/**
 * User-interactive authentication (the spec's legacy UIA API), reusable by any endpoint: an endpoint
 * names its flows, calls `check`, and gets back the request parameters once a whole flow is complete.
 * Until then `check` throws `UiaIncompleteError`, a 401 whose body is `{flows, params, session,
 * completed?, errcode?, error?}`.
 *
 * Sessions live in Postgres (any process can continue any session). A session is tied to the method
 * and path that started it and, for endpoints behind an access token, to the user. Stages must be
 * completed in a flow's order; a completed stage is never re-checked. Supported stages:
 * `m.login.dummy`, `m.login.password` and `m.login.registration_token` (the latter reserves one use
 * of the token — `pending` — until registration completes or the session expires).
 */
import type { Request } from 'express';
import { MatrixError, errors, isJsonObject, type Logger } from '@hs/core';
import type { Requester, RequestContext } from '@hs/http';
import type { Sql, TransactionSql } from '@hs/storage';
import { verifyAgainstNothing, verifyPassword, type ScryptParams } from './password-hash.ts';
import { randomString } from './tokens.ts';
import { findUserForLogin, getUser } from './users-store.ts';
import { qualifyLoginUser } from './user-id.ts';

export const LOGIN_DUMMY = 'm.login.dummy';
export const LOGIN_PASSWORD = 'm.login.password';
export const LOGIN_REGISTRATION_TOKEN = 'm.login.registration_token';

/** Synapse keeps UIA sessions for 48 hours. */
export const UIA_SESSION_LIFETIME_MS = 48 * 60 * 60 * 1000;
const EXPIRY_SWEEP_EVERY_MS = 10 * 60 * 1000;

export type Flow = readonly string[];

export interface UiaDeps {
  readonly sql: Sql;
  readonly serverName: string;
  readonly log: Logger;
  readonly now?: () => number;
  readonly passwordHashing?: Partial<ScryptParams>;
}

export interface UiaCheck {
  readonly req: Request;
  /** The whole request body, `auth` included. */
  readonly body: unknown;
  readonly flows: readonly Flow[];
  /** Shown to nobody, kept with the session for operators (Synapse's "description"). */
  readonly description: string;
  /** For endpoints behind an access token: the session belongs to this user, and passwords must be theirs. */
  readonly requester?: Requester | undefined;
  /** Per-stage parameters for the 401 body. */
  readonly params?: Readonly<Record<string, Record<string, unknown>>>;
  /** Body fields never stored with the session (passwords). */
  readonly sensitiveFields?: readonly string[];
  /**
   * When given, only these body fields are stored with the session: endpoints open to anyone
   * (registration) should not let strangers park arbitrary JSON in the database.
   */
  readonly storedFields?: readonly string[];
}

export interface UiaResult {
  readonly sessionId: string;
  /** Completed stages, in order. */
  readonly completed: readonly string[];
  /** What each stage established (the user ID for m.login.password, the token for registration tokens). */
  readonly results: Readonly<Record<string, unknown>>;
  /** The request body without `auth`: this request's, or the session's when this one sent only `auth`. */
  readonly params: Record<string, unknown>;
}

/** The 401 of an unfinished UIA flow; its JSON is the UIA body, not the usual error envelope. */
export class UiaIncompleteError extends MatrixError {
  readonly sessionId: string;
  readonly response: Record<string, unknown>;

  constructor(sessionId: string, response: Record<string, unknown>) {
    super(401, typeof response.errcode === 'string' ? response.errcode : 'M_UNAUTHORIZED', typeof response.error === 'string' ? response.error : 'Additional authentication required');
    this.sessionId = sessionId;
    this.response = response;
  }

  override toJSON(): Record<string, unknown> {
    return this.response;
  }
}

/** A stage attempt that failed but may be retried: reported inside the 401 body. */
class StageFailure extends Error {
  readonly errcode: string;
  constructor(errcode: string, message: string) {
    super(message);
    this.errcode = errcode;
  }
}

interface SessionRow {
  session_id: string;
  creation_ts: number;
  method: string;
  path: string;
  user_id: string | null;
  clientdict: Record<string, unknown>;
  serverdict: Record<string, unknown>;
  completed: string[];
  results: Record<string, unknown>;
}

interface StageContext {
  readonly sessionId: string;
  readonly requester: Requester | undefined;
}

function omit(obj: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (!keys.includes(k)) out[k] = v;
  return out;
}

/** Whether `stage` may come next: some flow starts with the completed stages and continues with it. */
function isNextStage(flows: readonly Flow[], completed: readonly string[], stage: string): boolean {
  return flows.some((f) => completed.every((s, i) => f[i] === s) && f[completed.length] === stage);
}

function flowComplete(flows: readonly Flow[], completed: readonly string[]): boolean {
  return flows.some((f) => f.length === completed.length && f.every((s, i) => completed[i] === s));
}

export class UserInteractiveAuth {
  private readonly deps: UiaDeps;
  private readonly now: () => number;
  private lastSweep = 0;

  constructor(deps: UiaDeps) {
    this.deps = deps;
    this.now = deps.now ?? Date.now;
  }

  /** The flows for re-authenticating a signed-in user: their password, if they have one. */
  async flowsForUser(userId: string): Promise<Flow[]> {
    const user = await getUser(this.deps.sql, userId);
    return user?.password_hash ? [[LOGIN_PASSWORD]] : [];
  }

  /**
   * UIA for an endpoint behind an access token (device deletion, password change, deactivation,
   * e2ee's cross-signing upload): the user proves who they are with their password.
   */
  async requireUser(ctx: RequestContext, description: string, sensitiveFields?: readonly string[]): Promise<UiaResult> {
    const requester = ctx.requester;
    if (!requester) throw errors.missingToken();
    return this.check({
      req: ctx.req,
      body: ctx.body,
      flows: await this.flowsForUser(requester.userId),
      description,
      requester,
      ...(sensitiveFields ? { sensitiveFields } : {}),
    });
  }

  async check(c: UiaCheck): Promise<UiaResult> {
    const body = isJsonObject(c.body) ? (c.body as Record<string, unknown>) : {};
    const auth = isJsonObject(body.auth) ? (body.auth as Record<string, unknown>) : undefined;
    const requestParams = omit(body, ['auth']);
    let stored = omit(requestParams, c.sensitiveFields ?? []);
    if (c.storedFields) {
      const keep = c.storedFields;
      stored = Object.fromEntries(Object.entries(stored).filter(([k]) => keep.includes(k)));
    }
    const hasParams = Object.keys(requestParams).length > 0;
    const sessionId = typeof auth?.session === 'string' && auth.session !== '' ? auth.session : undefined;

    let session: SessionRow;
    let params: Record<string, unknown>;
    if (sessionId === undefined) {
      session = await this.createSession(c, stored);
      params = requestParams;
    } else {
      session = await this.loadSession(sessionId);
      if (session.method !== c.req.method || session.path !== c.req.path) {
        throw errors.forbidden('Requested operation has changed during the UI authentication session.');
      }
      if (session.user_id !== (c.requester?.userId ?? null)) {
        throw errors.forbidden('This authentication session belongs to another user.');
      }
      if (hasParams) {
        await this.deps.sql`UPDATE ui_auth_sessions SET clientdict = ${this.deps.sql.json(stored as never)} WHERE session_id = ${session.session_id}`;
        params = requestParams;
      } else {
        params = session.clientdict;
      }
    }

    const base = (): Record<string, unknown> => ({
      flows: c.flows.map((f) => ({ stages: [...f] })),
      params: c.params ?? {},
      session: session.session_id,
    });
    // A request without `auth` never succeeds: it learns the flows and its session.
    if (!auth) throw new UiaIncompleteError(session.session_id, base());

    let completed = session.completed;
    let results = session.results;
    let failure: StageFailure | undefined;
    const type = auth.type;
    if (type !== undefined && typeof type !== 'string') throw errors.badJson('auth.type must be a string');
    if (type !== undefined && !completed.includes(type)) {
      if (!isNextStage(c.flows, completed, type)) {
        failure = new StageFailure('M_FORBIDDEN', `${type} is not the next stage of any offered flow`);
      } else {
        try {
          const result = await this.checkStage(type, auth, { sessionId: session.session_id, requester: c.requester });
          ({ completed, results } = await this.markCompleted(session.session_id, type, result));
        } catch (e) {
          if (!(e instanceof StageFailure)) throw e;
          failure = e;
        }
      }
    }
    if (!failure && flowComplete(c.flows, completed)) {
      return { sessionId: session.session_id, completed, results, params };
    }
    throw new UiaIncompleteError(session.session_id, {
      ...base(),
      completed: [...completed],
      ...(failure ? { errcode: failure.errcode, error: failure.message } : {}),
    });
  }

  /** What the server remembers for a session (password hash, registered user, token in use). */
  async getServerData(sessionId: string): Promise<Record<string, unknown> | undefined> {
    const [row] = await this.deps.sql<{ serverdict: Record<string, unknown> }[]>`
      SELECT serverdict FROM ui_auth_sessions WHERE session_id = ${sessionId}`;
    return row?.serverdict;
  }

  /** Merge keys into a session's server data (inside `tx` when given). */
  async setServerData(sessionId: string, patch: Record<string, unknown>, tx?: TransactionSql): Promise<void> {
    const sql = tx ?? this.deps.sql;
    await sql`UPDATE ui_auth_sessions SET serverdict = serverdict || ${this.deps.sql.json(patch as never)} WHERE session_id = ${sessionId}`;
  }

  /**
   * Delete sessions past their lifetime, giving back the registration-token uses they were holding.
   * Runs by itself now and then; exported for tests and maintenance.
   */
  async expireSessions(): Promise<number> {
    const cutoff = this.now() - UIA_SESSION_LIFETIME_MS;
    return this.deps.sql.begin(async (tx) => {
      const gone = await tx<{ token: string | null }[]>`
        DELETE FROM ui_auth_sessions WHERE creation_ts < ${cutoff}
        RETURNING CASE WHEN serverdict->>'registration_token_used' IS NULL THEN serverdict->>'registration_token' END AS token`;
      const held = gone.map((g) => g.token).filter((t): t is string => t !== null);
      if (held.length > 0) {
        await tx`
          UPDATE registration_tokens AS r SET pending = GREATEST(r.pending - h.n, 0)
          FROM (SELECT t, count(*)::int AS n FROM unnest(${held}::text[]) AS t GROUP BY t) AS h
          WHERE r.token = h.t`;
      }
      return gone.length;
    });
  }

  private async createSession(c: UiaCheck, clientdict: Record<string, unknown>): Promise<SessionRow> {
    const now = this.now();
    if (now - this.lastSweep > EXPIRY_SWEEP_EVERY_MS) {
      this.lastSweep = now;
      this.expireSessions().catch((e: unknown) => this.deps.log.warn('could not expire UIA sessions', { error: (e as Error).message }));
    }
    const row: SessionRow = {
      session_id: randomString(24),
      creation_ts: now,
      method: c.req.method,
      path: c.req.path,
      user_id: c.requester?.userId ?? null,
      clientdict,
      serverdict: {},
      completed: [],
      results: {},
    };
    await this.deps.sql`
      INSERT INTO ui_auth_sessions (session_id, creation_ts, method, path, description, user_id, clientdict)
      VALUES (${row.session_id}, ${now}, ${row.method}, ${row.path}, ${c.description}, ${row.user_id}, ${this.deps.sql.json(clientdict as never)})`;
    return row;
  }

  private async loadSession(sessionId: string): Promise<SessionRow> {
    const [row] = await this.deps.sql<SessionRow[]>`
      SELECT session_id, creation_ts, method, path, user_id, clientdict, serverdict, completed, results
      FROM ui_auth_sessions WHERE session_id = ${sessionId}`;
    if (!row || this.now() - row.creation_ts > UIA_SESSION_LIFETIME_MS) {
      throw new MatrixError(400, 'M_UNKNOWN', 'Unknown session ID');
    }
    return row;
  }

  /** Append a stage to the session's completed list, unless a concurrent request already did. */
  private async markCompleted(sessionId: string, type: string, result: unknown): Promise<{ completed: string[]; results: Record<string, unknown> }> {
    const sql = this.deps.sql;
    const [row] = await sql<{ completed: string[]; results: Record<string, unknown> }[]>`
      UPDATE ui_auth_sessions
      SET completed = CASE WHEN completed @> jsonb_build_array(${type}::text) THEN completed ELSE completed || jsonb_build_array(${type}::text) END,
          results = results || jsonb_build_object(${type}::text, ${sql.json(result as never)}::jsonb)
      WHERE session_id = ${sessionId}
      RETURNING completed, results`;
    if (!row) throw new MatrixError(400, 'M_UNKNOWN', 'Unknown session ID');
    return row;
  }

  private async checkStage(type: string, auth: Record<string, unknown>, ctx: StageContext): Promise<unknown> {
    switch (type) {
      case LOGIN_DUMMY:
        return true;
      case LOGIN_PASSWORD:
        return this.checkPassword(auth, ctx);
      case LOGIN_REGISTRATION_TOKEN:
        return this.checkRegistrationToken(auth, ctx);
      default:
        // Only reachable if an endpoint offers a stage this module does not implement.
        throw new StageFailure('M_UNRECOGNIZED', `Unsupported authentication stage ${type}`);
    }
  }

  private async checkPassword(auth: Record<string, unknown>, ctx: StageContext): Promise<string> {
    const password = auth.password;
    if (typeof password !== 'string') throw new StageFailure('M_MISSING_PARAM', 'Missing parameter: password');
    const identifier = isJsonObject(auth.identifier) ? auth.identifier : undefined;
    let user: unknown;
    if (identifier) {
      if (identifier.type !== 'm.id.user') throw new StageFailure('M_FORBIDDEN', 'Invalid username or password');
      user = identifier.user;
    } else {
      user = auth.user;
    }
    if (typeof user !== 'string' || user === '') throw new StageFailure('M_MISSING_PARAM', 'Missing user identifier');
    const row = await findUserForLogin(this.deps.sql, qualifyLoginUser(user, this.deps.serverName));
    const ok = row?.password_hash
      ? await verifyPassword(password, row.password_hash)
      : await verifyAgainstNothing(password, this.deps.passwordHashing);
    if (!ok || !row || row.deactivated) throw new StageFailure('M_FORBIDDEN', 'Invalid username or password');
    if (ctx.requester && row.user_id !== ctx.requester.userId) {
      throw new StageFailure('M_FORBIDDEN', 'The password given is not the password of the signed-in user');
    }
    return row.user_id;
  }

  /** Reserve one use of the token for this session (once, however often the stage is sent). */
  private async checkRegistrationToken(auth: Record<string, unknown>, ctx: StageContext): Promise<string> {
    const token = auth.token;
    if (typeof token !== 'string' || token === '') throw new StageFailure('M_MISSING_PARAM', 'Missing parameter: token');
    const now = this.now();
    const reserved = await this.deps.sql.begin(async (tx) => {
      const [s] = await tx<{ held: string | null }[]>`
        SELECT serverdict->>'registration_token' AS held FROM ui_auth_sessions WHERE session_id = ${ctx.sessionId} FOR UPDATE`;
      if (s?.held === token) return true;
      const hit = await tx`
        UPDATE registration_tokens SET pending = pending + 1
        WHERE token = ${token}
          AND (uses_allowed IS NULL OR pending + completed < uses_allowed)
          AND (expiry_time IS NULL OR expiry_time > ${now})
        RETURNING token`;
      if (hit.length === 0) return false;
      // A different token held earlier in this session is given back.
      if (s?.held) await tx`UPDATE registration_tokens SET pending = GREATEST(pending - 1, 0) WHERE token = ${s.held}`;
      await tx`UPDATE ui_auth_sessions SET serverdict = serverdict || jsonb_build_object('registration_token', ${token}::text) WHERE session_id = ${ctx.sessionId}`;
      return true;
    });
    if (!reserved) throw new StageFailure('M_UNAUTHORIZED', 'Invalid registration token');
    return token;
  }
}
