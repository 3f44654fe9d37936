/**
 * `GET /_matrix/key/v2/server`: our verify keys, signed with every current key, so peers (and
 * notary servers) can check our signatures. The response is cached briefly: peers poll it, and
 * its content only changes when `valid_until_ts` needs moving forward.
 */
import { encodeBase64, type JsonObject } from '@hs/core';
import { signJson } from '@hs/events';
import type { EndpointDecl, Handler } from '@hs/http';

export interface ServerSigningKey {
  readonly keyId: string;
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

export interface ExpiredVerifyKey {
  readonly keyId: string;
  /** Unpadded base64 public key. */
  readonly key: string;
  readonly expiredTs: number;
}

export interface KeyServerOptions {
  readonly serverName: string;
  readonly keys: readonly ServerSigningKey[];
  readonly oldKeys?: readonly ExpiredVerifyKey[];
  /** How long peers may cache our keys (Synapse's key_refresh_interval, default 1 day). */
  readonly validityMs?: number;
  readonly now?: () => number;
}

export const keyServerEndpoints: EndpointDecl[] = [
  {
    name: 'key_v2_server',
    method: 'GET',
    path: '/_matrix/key/v2/server',
    resource: 'keys',
    workers: ['main', 'generic_worker'],
    auth: 'none',
  },
  {
    // Deprecated form with a key ID; servers answer it like the plain one.
    name: 'key_v2_server_key_id',
    method: 'GET',
    path: '/_matrix/key/v2/server/{keyId}',
    resource: 'keys',
    workers: ['main', 'generic_worker'],
    auth: 'none',
  },
];

export function buildServerKeysResponse(opts: KeyServerOptions, now: number): JsonObject {
  const verifyKeys: JsonObject = {};
  for (const k of opts.keys) verifyKeys[k.keyId] = { key: encodeBase64(k.publicKey) };
  const oldVerifyKeys: JsonObject = {};
  for (const k of opts.oldKeys ?? []) oldVerifyKeys[k.keyId] = { key: k.key, expired_ts: k.expiredTs };
  let body: JsonObject = {
    server_name: opts.serverName,
    valid_until_ts: now + (opts.validityMs ?? 86_400_000),
    verify_keys: verifyKeys,
    old_verify_keys: oldVerifyKeys,
  };
  for (const k of opts.keys) body = signJson(body, opts.serverName, k.keyId, k.secretKey);
  return body;
}

export function createKeyServerHandlers(opts: KeyServerOptions): Map<string, Handler> {
  if (opts.keys.length === 0) throw new Error('the key server needs at least one signing key');
  const now = opts.now ?? Date.now;
  const validity = opts.validityMs ?? 86_400_000;
  let cached: { body: JsonObject; refreshAt: number } | undefined;
  const handler: Handler = () => {
    const t = now();
    // Re-sign once a tenth of the validity has passed, so valid_until_ts stays well ahead.
    if (!cached || t >= cached.refreshAt) cached = { body: buildServerKeysResponse(opts, t), refreshAt: t + validity / 10 };
    return { body: cached.body };
  };
  return new Map([
    ['key_v2_server', handler],
    ['key_v2_server_key_id', handler],
  ]);
}
