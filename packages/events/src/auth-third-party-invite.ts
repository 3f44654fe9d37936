import sodium from 'libsodium-wrappers';
import type { JsonObject, JsonValue } from '@hs/core';
import { isJsonObject } from '@hs/core';
import { canonicalJson } from '@hs/core/canonical-json';
import type { EventView } from './types.ts';
import type { AuthResult, AuthStateLookup } from './auth-types.ts';
import { ALLOW, deny } from './auth-types.ts';

await sodium.ready;

/** Unpadded base64 in either alphabet (the spec does not pin one for these keys). */
function decodeBase64(s: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(s)) return undefined;
  return new Uint8Array(Buffer.from(s, 'base64'));
}

/** Public keys of an m.room.third_party_invite: `public_key` plus each `public_keys[].public_key`. */
function inviteKeys(content: JsonObject): Uint8Array[] {
  const encoded: JsonValue[] = [content['public_key'] ?? null];
  const list = content['public_keys'];
  if (Array.isArray(list)) for (const entry of list) if (isJsonObject(entry)) encoded.push(entry['public_key'] ?? null);
  const keys: Uint8Array[] = [];
  for (const e of encoded) {
    const key = typeof e === 'string' ? decodeBase64(e) : undefined;
    if (key?.length === sodium.crypto_sign_PUBLICKEYBYTES) keys.push(key);
  }
  return keys;
}

/** Whether any ed25519 signature on `signed` verifies against any of the keys. */
function signedByAnyKey(signed: JsonObject, keys: readonly Uint8Array[]): boolean {
  const signatures = signed['signatures'];
  if (!isJsonObject(signatures) || keys.length === 0) return false;
  const { signatures: _s, unsigned: _u, ...rest } = signed;
  let message: Uint8Array;
  try {
    message = new TextEncoder().encode(canonicalJson(rest));
  } catch {
    return false; // not representable as canonical JSON, so nothing can have signed it
  }
  for (const byServer of Object.values(signatures)) {
    if (!isJsonObject(byServer)) continue;
    for (const [keyId, sig] of Object.entries(byServer)) {
      if (!keyId.startsWith('ed25519:') || typeof sig !== 'string') continue;
      const bytes = decodeBase64(sig);
      if (bytes?.length !== sodium.crypto_sign_BYTES) continue;
      if (keys.some((k) => sodium.crypto_sign_verify_detached(bytes, message, k))) return true;
    }
  }
  return false;
}

/**
 * The invite-with-`third_party_invite` branch of the membership rules. Runs instead of the
 * ordinary invite checks; `targetMembership` is the state_key user's current membership.
 */
export function checkThirdPartyInvite(
  event: EventView,
  thirdPartyInvite: JsonValue,
  targetMembership: string | undefined,
  authState: AuthStateLookup,
): AuthResult {
  if (targetMembership === 'ban') return deny('third-party invite: target user is banned');
  const signed = isJsonObject(thirdPartyInvite) ? thirdPartyInvite['signed'] : undefined;
  if (!isJsonObject(signed)) return deny('third-party invite: no signed object');
  const mxid = signed['mxid'];
  const token = signed['token'];
  if (typeof mxid !== 'string' || typeof token !== 'string') return deny('third-party invite: signed lacks mxid or token');
  if (mxid !== event.state_key) return deny('third-party invite: signed.mxid does not match state_key');
  const invite = authState('m.room.third_party_invite', token);
  if (!invite) return deny('third-party invite: no m.room.third_party_invite for the token');
  if (invite.sender !== event.sender) return deny('third-party invite: sender differs from the m.room.third_party_invite sender');
  if (!signedByAnyKey(signed, inviteKeys(invite.content))) {
    return deny('third-party invite: no valid signature from the invite keys');
  }
  return ALLOW;
}
