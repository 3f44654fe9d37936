/**
 * GET /_matrix/client/versions: the advertised spec versions are well-formed, in order, without holes,
 * and include what clients insist on; every unstable feature flag is backed by code that does it.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import type { EndpointDecl, Handler } from '@hs/http';
import { startTestApp } from '@hs/http/testing';
import { buildCapabilities } from '@hs/account-data/capabilities';
import { accountsEndpoints } from '@hs/accounts';
import { mediaEndpoints } from '@hs/media';
import { roomApiEndpoints } from '@hs/room-api';
import { parseSyncParams } from '@hs/sync';
import { MINIMUM_MATRIX_VERSION } from 'matrix-js-sdk/lib/version-support.js';
import { SUPPORTED_CLIENT_VERSIONS, UNSTABLE_FEATURES, createDiscoveryHandlers, discoveryEndpoints } from '../src/discovery.ts';

const R0 = /^r0\.(\d+)\.(\d+)$/;
const V1 = /^v1\.(\d+)$/;

/** Sort key: every r0.x.y before v1.1, v1.2 before v1.10. */
function rank(version: string): [number, number, number] {
  const r = R0.exec(version);
  if (r) return [0, Number(r[1]), Number(r[2])];
  const v = V1.exec(version);
  if (v) return [1, Number(v[1]), 0];
  throw new Error(`not a spec version: ${version}`);
}

function compare(a: string, b: string): number {
  const [x, y] = [rank(a), rank(b)];
  return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
}

test('every advertised version is well-formed, listed once, in spec order', () => {
  assert.ok(SUPPORTED_CLIENT_VERSIONS.length > 0);
  for (const v of SUPPORTED_CLIENT_VERSIONS) assert.match(v, /^(r0\.\d+\.\d+|v1\.\d+)$/, v);
  for (let i = 1; i < SUPPORTED_CLIENT_VERSIONS.length; i++) {
    const [a, b] = [SUPPORTED_CLIENT_VERSIONS[i - 1] as string, SUPPORTED_CLIENT_VERSIONS[i] as string];
    assert.ok(compare(a, b) < 0, `${a} must come before ${b}`);
  }
  assert.ok(compare('v1.2', 'v1.10') < 0 && compare('r0.6.1', 'v1.1') < 0, 'the order itself is numeric');
});

test('the v1 versions run from v1.1 without holes and include what clients require', () => {
  const minors = SUPPORTED_CLIENT_VERSIONS.filter((v) => V1.test(v)).map((v) => rank(v)[1]);
  assert.deepEqual(minors, Array.from({ length: minors.length }, (_, i) => i + 1), 'v1.1, v1.2, … with none skipped');
  // matrix-js-sdk (and so Element) refuses servers without its minimum; bridges built on mautrix want v1.4;
  // clients use authenticated media only once v1.11 is listed.
  for (const needed of [MINIMUM_MATRIX_VERSION, 'v1.4', 'v1.11']) assert.ok(SUPPORTED_CLIENT_VERSIONS.includes(needed), needed);
  // Old r0 clients look for the last r0 release.
  assert.ok(SUPPORTED_CLIENT_VERSIONS.includes('r0.6.1'));
});

/**
 * What a listed version makes clients call, checked against the endpoint declarations (each package's
 * own tests prove the endpoints work): a version whose check is missing here must not be listed.
 */
const VERSION_BACKING: Record<string, () => void> = {
  // matrix-js-sdk switches to the stable room summary path once v1.15 is listed.
  'v1.15'() {
    const summary = roomApiEndpoints.find((e) => e.path === '/_matrix/client/v1/room_summary/{roomIdOrAlias}' && e.method === 'GET');
    assert.ok(summary, 'GET /v1/room_summary/{roomIdOrAlias}');
    assert.equal(summary.auth, 'none', 'signing in is optional (the handler authenticates when a token is given)');
  },
  // ... and to extended profiles at v1.16: any key, read, written and deleted.
  'v1.16'() {
    for (const method of ['GET', 'PUT', 'DELETE'] as const) {
      assert.ok(
        accountsEndpoints.some((e) => e.method === method && e.path === '/_matrix/client/v3/profile/{userId}/{keyName}'),
        `${method} /v3/profile/{userId}/{keyName}`,
      );
    }
    // The capability clients read before offering those fields says every field may be changed.
    assert.deepEqual((buildCapabilities().capabilities as Record<string, unknown>)['m.profile_fields'], { enabled: true });
  },
};

test('versions that change what clients call are backed by declared endpoints', () => {
  for (const [version, check] of Object.entries(VERSION_BACKING)) {
    assert.ok(SUPPORTED_CLIENT_VERSIONS.includes(version), `${version} is backed, so it is listed`);
    check();
  }
  // Nothing beyond the spec this server was built against (v1.19).
  assert.equal(SUPPORTED_CLIENT_VERSIONS.at(-1), 'v1.19');
});

/** What backs each unstable flag: one check per flag, run against the real code. */
const BACKING: Record<string, () => Promise<void>> = {
  async 'org.matrix.msc4222'() {
    // Through the real listener app, so the dotted parameter name survives query parsing.
    const probe: EndpointDecl = { name: 'probe', method: 'GET', path: '/probe', resource: 'client', workers: ['main'], auth: 'none' };
    const handlers = new Map<string, Handler>([['probe', (ctx) => ({ body: { ...parseSyncParams(ctx) } })]]);
    const app = await startTestApp({ endpoints: [probe], handlers });
    try {
      const parsed = async (q: string) => (await (await fetch(`${app.baseUrl}/probe?${q}`)).json()) as { useStateAfter: boolean; stateAfterKey: string };
      assert.deepEqual(await parsed('org.matrix.msc4222.use_state_after=true'), { ...(await parsed('')), useStateAfter: true, stateAfterKey: 'org.matrix.msc4222.state_after' });
      assert.equal((await parsed('use_state_after=true')).stateAfterKey, 'state_after');
      assert.equal((await parsed('org.matrix.msc4222.use_state_after=false')).useStateAfter, false);
    } finally {
      await app.close();
    }
  },
  async 'org.matrix.msc3916.stable'() {
    const declared = new Set(mediaEndpoints.filter((e) => e.method === 'GET' && e.auth === 'user').map((e) => e.path));
    for (const path of [
      '/_matrix/client/v1/media/config',
      '/_matrix/client/v1/media/download/{serverName}/{mediaId}',
      '/_matrix/client/v1/media/download/{serverName}/{mediaId}/{fileName}',
      '/_matrix/client/v1/media/thumbnail/{serverName}/{mediaId}',
    ]) {
      assert.ok(declared.has(path), `authenticated media endpoint ${path}`);
    }
  },
};

test('every unstable feature flag is on and backed by working code', async () => {
  assert.deepEqual(Object.keys(UNSTABLE_FEATURES).sort(), Object.keys(BACKING).sort(), 'each flag needs a backing check');
  for (const [flag, on] of Object.entries(UNSTABLE_FEATURES)) {
    assert.equal(on, true, `${flag}: list only what we do`);
    assert.match(flag, /^[a-z]+(\.[a-z0-9_-]+)+$/, `${flag} is namespaced`);
    await (BACKING[flag] as () => Promise<void>)();
  }
});

test('GET /_matrix/client/versions serves the list and the flags, without auth, with CORS', async () => {
  const handlers = createDiscoveryHandlers({
    serverName: 'example.org',
    publicBaseurl: null,
    serveServerWellknown: false,
    unstableFeatures: { 'org.matrix.msc3916.stable': false, 'io.element.e2ee_forced.public': false },
  });
  const app = await startTestApp({ endpoints: discoveryEndpoints, handlers });
  try {
    const res = await fetch(`${app.baseUrl}/_matrix/client/versions`, { headers: { Origin: 'https://client.example' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    const body = (await res.json()) as { versions: string[]; unstable_features: Record<string, boolean> };
    assert.deepEqual(body.versions, [...SUPPORTED_CLIENT_VERSIONS]);
    // Options add to and override the built-in flags.
    assert.deepEqual(body.unstable_features, { ...UNSTABLE_FEATURES, 'org.matrix.msc3916.stable': false, 'io.element.e2ee_forced.public': false });
  } finally {
    await app.close();
  }
});
