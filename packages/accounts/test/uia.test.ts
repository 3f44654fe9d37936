import test from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp, type TestApp } from '@hs/http/testing';
import type { EndpointDecl, Handler } from '@hs/http';
import { UIA_SESSION_LIFETIME_MS, UserInteractiveAuth } from '../src/uia.ts';
import { SERVER, passwordAuth, startHarness, type Harness } from './support.ts';

let h: Harness;
let custom: TestApp;
let uia: UserInteractiveAuth;

/**
 * A test-only endpoint with a two-stage flow, to exercise ordering and parameters the real endpoints
 * do not have. It uses the module exactly as e2ee will: `check` with flows, requester and body.
 */
const endpoints: EndpointDecl[] = [
  { name: 'two_stage', method: 'POST', path: '/two-stage', resource: 'client', workers: ['main'], auth: 'user' },
  { name: 'other_op', method: 'POST', path: '/other-op', resource: 'client', workers: ['main'], auth: 'user' },
];

test.before(async () => {
  h = await startHarness({ registrationRequiresToken: true });
  uia = new UserInteractiveAuth(h.deps);
  const handler: Handler = async (ctx) => {
    const result = await uia.check({
      req: ctx.req,
      body: ctx.body,
      flows: [['m.login.dummy', 'm.login.password'], ['m.login.password']],
      description: 'test operation',
      requester: ctx.requester,
      params: { 'm.login.password': { hint: 'yours' } },
      sensitiveFields: ['secret'],
    });
    return { body: { done: true, params: result.params, completed: [...result.completed], results: result.results } };
  };
  custom = await startTestApp({ endpoints, handlers: new Map([['two_stage', handler], ['other_op', handler]]), authenticate: h.auth });
  await h.db.sql`INSERT INTO registration_tokens (token, uses_allowed) VALUES ('seed-user', NULL)`;
});
test.after(async () => {
  await custom.close();
  await h.close();
});

async function post(path: string, token: string, body: unknown) {
  const res = await fetch(custom.baseUrl + path, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function registerWithToken(username: string, token: string) {
  const REG = '/_matrix/client/v3/register';
  const first = await h.call('POST', REG, { body: { username, password: 'correct horse' } });
  const s = first.json.session;
  const t = await h.call('POST', REG, { body: { username, password: 'correct horse', auth: { type: 'm.login.registration_token', token, session: s } } });
  return { first, t, s };
}

/** Register through the token flow; returns the access token. */
async function registerFully(username: string, password: string): Promise<string> {
  const REG = '/_matrix/client/v3/register';
  const f = await h.call('POST', REG, { body: { username, password } });
  await h.call('POST', REG, { body: { auth: { type: 'm.login.registration_token', token: 'seed-user', session: f.json.session } } });
  const done = await h.call('POST', REG, { body: { auth: { type: 'm.login.dummy', session: f.json.session } } });
  assert.equal(done.status, 200, JSON.stringify(done.json));
  return String(done.json.access_token);
}

test('registration with a required token: flows, stage order, pending and completed counts', async () => {
  await h.db.sql`INSERT INTO registration_tokens (token, uses_allowed) VALUES ('tok-2', 2)`;
  const REG = '/_matrix/client/v3/register';
  const first = await h.call('POST', REG, { body: { username: 'tina', password: 'correct horse' } });
  assert.deepEqual(first.json.flows, [{ stages: ['m.login.registration_token', 'm.login.dummy'] }]);
  const s = first.json.session;

  // Dummy first is out of order: 401 with an error, nothing completed.
  const early = await h.call('POST', REG, { body: { auth: { type: 'm.login.dummy', session: s } } });
  assert.equal(early.status, 401);
  assert.equal(early.json.errcode, 'M_FORBIDDEN');
  assert.deepEqual(early.json.completed, []);

  const wrong = await h.call('POST', REG, { body: { auth: { type: 'm.login.registration_token', token: 'nope', session: s } } });
  assert.deepEqual([wrong.status, wrong.json.errcode, wrong.json.completed], [401, 'M_UNAUTHORIZED', []]);
  assert.equal(wrong.json.session, s);

  const tok = await h.call('POST', REG, { body: { auth: { type: 'm.login.registration_token', token: 'tok-2', session: s } } });
  assert.deepEqual([tok.status, tok.json.completed, tok.json.errcode], [401, ['m.login.registration_token'], undefined]);
  // Resending a completed stage does not take a second use.
  await h.call('POST', REG, { body: { auth: { type: 'm.login.registration_token', token: 'tok-2', session: s } } });
  const [held] = await h.db.sql`SELECT pending, completed FROM registration_tokens WHERE token = 'tok-2'`;
  assert.deepEqual([held?.pending, held?.completed], [1, 0]);
  // A session-only retry (out-of-band completion) answers with what is completed.
  const probe = await h.call('POST', REG, { body: { auth: { session: s } } });
  assert.deepEqual([probe.status, probe.json.completed], [401, ['m.login.registration_token']]);

  const done = await h.call('POST', REG, { body: { auth: { type: 'm.login.dummy', session: s } } });
  assert.equal(done.status, 200, JSON.stringify(done.json));
  assert.equal(done.json.user_id, `@tina:${SERVER}`);
  const [used] = await h.db.sql`SELECT pending, completed FROM registration_tokens WHERE token = 'tok-2'`;
  assert.deepEqual([used?.pending, used?.completed], [0, 1]);

  // One use left: a second registration takes it, a third finds the token exhausted.
  const second = await registerWithToken('tom', 'tok-2');
  assert.deepEqual(second.t.json.completed, ['m.login.registration_token']);
  const third = await registerWithToken('tess', 'tok-2');
  assert.equal(third.t.json.errcode, 'M_UNAUTHORIZED', 'pending use counts against uses_allowed');
  const validity = await h.call('GET', '/_matrix/client/v1/register/m.login.registration_token/validity?token=tok-2');
  assert.deepEqual(validity.json, { valid: false });
});

test('expired UIA sessions give back the token use they held, and are then unknown', async () => {
  await h.db.sql`INSERT INTO registration_tokens (token, uses_allowed) VALUES ('tok-exp', 1)`;
  const { t, s } = await registerWithToken('uma', 'tok-exp');
  assert.deepEqual(t.json.completed, ['m.login.registration_token']);
  const [before] = await h.db.sql`SELECT pending FROM registration_tokens WHERE token = 'tok-exp'`;
  assert.equal(before?.pending, 1);
  h.clock.now += UIA_SESSION_LIFETIME_MS + 1;
  const late = await h.call('POST', '/_matrix/client/v3/register', { body: { auth: { type: 'm.login.dummy', session: s } } });
  assert.deepEqual([late.status, late.json.errcode], [400, 'M_UNKNOWN']);
  assert.ok((await uia.expireSessions()) >= 1);
  const [after] = await h.db.sql`SELECT pending FROM registration_tokens WHERE token = 'tok-exp'`;
  assert.equal(after?.pending, 0);
  const validity = await h.call('GET', '/_matrix/client/v1/register/m.login.registration_token/validity?token=tok-exp');
  assert.deepEqual(validity.json, { valid: true });
});

test('two-stage flow: order enforced, stages complete in turn, params and completed reported', async () => {
  const token = await registerFully('vic', 'correct horse');
  const vicId = `@vic:${SERVER}`;

  const start = await post('/two-stage', token, { thing: 1, secret: 'hush' });
  assert.equal(start.status, 401);
  assert.deepEqual(start.json.flows, [{ stages: ['m.login.dummy', 'm.login.password'] }, { stages: ['m.login.password'] }]);
  assert.deepEqual(start.json.params, { 'm.login.password': { hint: 'yours' } });
  assert.equal(start.json.completed, undefined);
  const s = start.json.session;
  const [stored] = await h.db.sql`SELECT clientdict, user_id FROM ui_auth_sessions WHERE session_id = ${String(s)}`;
  assert.deepEqual(stored?.clientdict, { thing: 1 }, 'sensitive fields stay out of the session');
  assert.equal(stored?.user_id, vicId);

  const dummy = await post('/two-stage', token, { thing: 1, auth: { type: 'm.login.dummy', session: s } });
  assert.deepEqual([dummy.status, dummy.json.completed], [401, ['m.login.dummy']]);

  const badPw = await post('/two-stage', token, { thing: 1, auth: passwordAuth('vic', s, 'wrong') });
  assert.deepEqual([badPw.status, badPw.json.errcode, badPw.json.completed], [401, 'M_FORBIDDEN', ['m.login.dummy']]);
  assert.ok(Array.isArray(badPw.json.flows), 'a failed stage still carries the flows');

  // Someone else's (correct) password does not authenticate this user.
  const walt = await registerFully('walt', 'walt-pw');
  const otherPw = await post('/two-stage', token, { thing: 1, auth: passwordAuth('walt', s, 'walt-pw') });
  assert.deepEqual([otherPw.status, otherPw.json.errcode], [401, 'M_FORBIDDEN']);

  // Only auth this time: the stored parameters come back.
  const ok = await post('/two-stage', token, { auth: passwordAuth('vic', s) });
  assert.equal(ok.status, 200, JSON.stringify(ok.json));
  assert.deepEqual(ok.json.params, { thing: 1 });
  assert.deepEqual(ok.json.completed, ['m.login.dummy', 'm.login.password']);
  assert.deepEqual(ok.json.results, { 'm.login.dummy': true, 'm.login.password': vicId });

  // Retrying a completed stage returns the result again rather than an error.
  const again = await post('/two-stage', token, { thing: 2, auth: passwordAuth('vic', s) });
  assert.equal(again.status, 200);
  assert.deepEqual(again.json.params, { thing: 2 });

  // Wrong session, another operation's session, and another user's session.
  const unknown = await post('/two-stage', token, { auth: { type: 'm.login.dummy', session: 'no-such-session' } });
  assert.deepEqual([unknown.status, unknown.json.errcode], [400, 'M_UNKNOWN']);
  const otherOp = await post('/other-op', token, { auth: { type: 'm.login.dummy', session: s } });
  assert.deepEqual([otherOp.status, otherOp.json.errcode], [403, 'M_FORBIDDEN']);
  const stolen = await post('/two-stage', walt, { auth: passwordAuth('walt', s, 'walt-pw') });
  assert.deepEqual([stolen.status, stolen.json.errcode], [403, 'M_FORBIDDEN']);

  // An unknown stage type is simply not the next stage of any flow.
  const s2 = (await post('/two-stage', token, {})).json.session;
  const weird = await post('/two-stage', token, { auth: { type: 'm.login.recaptcha', session: s2 } });
  assert.deepEqual([weird.status, weird.json.errcode], [401, 'M_FORBIDDEN']);
  // The single-stage flow works directly.
  const direct = await post('/two-stage', token, { auth: passwordAuth(vicId, s2) });
  assert.equal(direct.status, 200);
  assert.deepEqual(direct.json.completed, ['m.login.password']);
});

test('a user without a password is offered no flow and cannot pass UIA', async () => {
  const guest = await h.call('POST', '/_matrix/client/v3/register?kind=guest', { body: {} });
  const r = await post('/two-stage', String(guest.json.access_token), {});
  assert.equal(r.status, 401);
  assert.deepEqual(await uia.flowsForUser(String(guest.json.user_id)), []);
});
