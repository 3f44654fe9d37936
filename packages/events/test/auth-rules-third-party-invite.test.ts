import sodium from 'libsodium-wrappers';
import type { JsonObject } from '@hs/core';
import { canonicalJson } from '@hs/core/canonical-json';
import type { RoomVersion } from '../src/room-versions.ts';
import type { AuthCase } from './auth-fixtures.ts';
import { BOB, CAROL, EVE, ev, lookup, makeRoom, memberEv, setMember } from './auth-fixtures.ts';
import { runAuthTable } from './auth-table.ts';

await sodium.ready;
const b64 = (bytes: Uint8Array) => sodium.to_base64(bytes, sodium.base64_variants.ORIGINAL_NO_PADDING);
const identityKey = sodium.crypto_sign_seed_keypair(new Uint8Array(32).fill(7));
const listedKey = sodium.crypto_sign_seed_keypair(new Uint8Array(32).fill(9));
const strangerKey = sodium.crypto_sign_seed_keypair(new Uint8Array(32).fill(3));

/** A `signed` block as an identity server would produce it. */
function signedBlock(mxid: string, token: string, privateKey: Uint8Array, keyId = 'ed25519:0'): JsonObject {
  const unsigned: JsonObject = { mxid, token, sender: BOB };
  const sig = sodium.crypto_sign_detached(new TextEncoder().encode(canonicalJson(unsigned)), privateKey);
  return { ...unsigned, signatures: { 'id.example.org': { [keyId]: b64(sig) } } };
}

interface Opts {
  sender?: string;
  inviteSender?: string;
  target?: string;
  mxid?: string;
  token?: string;
  key?: Uint8Array;
  keyId?: string;
  tpi?: (signed: JsonObject) => JsonObject;
  before?: (room: ReturnType<typeof makeRoom>) => void;
  withInviteEvent?: boolean;
}

function thirdParty(o: Opts = {}) {
  return (v: RoomVersion) => {
    const room = makeRoom(v);
    o.before?.(room);
    const target = o.target ?? EVE;
    const signed = signedBlock(o.mxid ?? target, 'tok123', o.key ?? identityKey.privateKey, o.keyId);
    const tpiContent = o.tpi ? o.tpi(signed) : { display_name: 'e…', signed };
    const event = memberEv(room, target, 'invite', o.sender ?? BOB, { third_party_invite: tpiContent });
    const inviteEvent = ev(
      room,
      'm.room.third_party_invite',
      o.inviteSender ?? BOB,
      {
        display_name: 'e…',
        key_validity_url: 'https://id.example.org/isvalid',
        public_key: b64(identityKey.publicKey),
        public_keys: [{ public_key: sodium.to_base64(listedKey.publicKey, sodium.base64_variants.URLSAFE_NO_PADDING) }],
      },
      o.token ?? 'tok123',
    );
    return { event, state: o.withInviteEvent === false ? lookup(room) : lookup(room, inviteEvent) };
  };
}

const cases: AuthCase[] = [
  { name: 'signed by the public_key', expect: 'allow', build: thirdParty() },
  {
    name: 'signed by a key in public_keys (URL-safe base64)',
    expect: 'allow',
    build: thirdParty({ key: listedKey.privateKey }),
  },
  {
    name: 'sender not joined still passes via the third-party branch',
    expect: 'allow',
    build: thirdParty({ before: (r) => setMember(r, BOB, 'leave') }),
  },
  {
    name: 'signed by an unknown key',
    reason: /no valid signature/,
    expect: 'deny',
    build: thirdParty({ key: strangerKey.privateKey }),
  },
  {
    name: 'signature under a non-ed25519 key ID',
    reason: /no valid signature/,
    expect: 'deny',
    build: thirdParty({ keyId: 'curve25519:0' }),
  },
  {
    name: 'signed block tampered after signing', reason: /no valid signature/,
    expect: 'deny',
    build: thirdParty({ tpi: (signed) => ({ signed: { ...signed, sender: CAROL } }) }),
  },
  {
    name: 'mxid does not match state_key',
    reason: /mxid/,
    expect: 'deny',
    build: thirdParty({ mxid: '@other:e.org' }),
  },
  {
    name: 'no m.room.third_party_invite for the token',
    reason: /no m.room.third_party_invite/,
    expect: 'deny',
    build: thirdParty({ token: 'othertoken' }),
  },
  {
    name: 'no m.room.third_party_invite at all',
    reason: /no m.room.third_party_invite/,
    expect: 'deny',
    build: thirdParty({ withInviteEvent: false }),
  },
  {
    name: 'invite sender differs from the third-party invite sender',
    reason: /sender differs/,
    expect: 'deny',
    build: thirdParty({ inviteSender: CAROL }),
  },
  {
    name: 'target is banned',
    reason: /banned/,
    expect: 'deny',
    build: thirdParty({ before: (r) => setMember(r, EVE, 'ban') }),
  },
  {
    name: 'third_party_invite without signed',
    reason: /no signed/,
    expect: 'deny',
    build: thirdParty({ tpi: () => ({ display_name: 'x' }) }),
  },
  {
    name: 'third_party_invite is not an object',
    reason: /no signed/,
    expect: 'deny',
    build: thirdParty({ tpi: () => 'nope' as never }),
  },
  {
    name: 'signed without token', reason: /mxid or token/,
    expect: 'deny',
    build: thirdParty({ tpi: (signed) => ({ signed: { mxid: signed['mxid']!, signatures: signed['signatures']! } }) }),
  },
  {
    name: 'signed with malformed signatures', reason: /no valid signature/,
    expect: 'deny',
    build: thirdParty({ tpi: (signed) => ({ signed: { ...signed, signatures: { 'id.example.org': { 'ed25519:0': 'x!' } } } }) }),
  },
];
runAuthTable('third-party invites', cases);
