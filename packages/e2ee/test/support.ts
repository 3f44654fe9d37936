/**
 * Test harness: a migrated database, real stream writers, the e2ee handlers behind the real listener
 * app, in-memory stand-ins for the accounts and rooms domains, and ed25519 keys made with libsodium.
 */
import sodium from 'libsodium-wrappers';
import { canonicalJsonBytes, encodeBase64, errors, MatrixError, silentLogger, type JsonObject, type Logger, type StreamChange } from '@hs/core';
import type { Requester } from '@hs/http';
import { startTestApp, type TestApp } from '@hs/http/testing';
import { StreamWriter } from '@hs/storage';
import { createTestDatabase, type TestDatabase } from '@hs/storage/testing';
import { createE2ee, e2eeEndpoints, type E2ee, type SharingChanges } from '../src/index.ts';

await sodium.ready;

export const SERVER = 'test.local';

export interface KeyPair {
  readonly publicKey: string;
  readonly secretKey: Uint8Array;
}

export function newKeyPair(): KeyPair {
  const kp = sodium.crypto_sign_keypair();
  return { publicKey: encodeBase64(kp.publicKey), secretKey: kp.privateKey };
}

/** Sign `obj` (over canonical JSON without signatures/unsigned) and add the signature, returning a copy. */
export function sign(obj: JsonObject, userId: string, keyId: string, kp: KeyPair): JsonObject {
  const { signatures, unsigned: _u, ...rest } = obj;
  const sig = encodeBase64(sodium.crypto_sign_detached(canonicalJsonBytes(rest), kp.secretKey));
  const sigs = structuredClone((signatures ?? {}) as Record<string, Record<string, string>>);
  (sigs[userId] ??= {})[keyId] = sig;
  return { ...structuredClone(obj), signatures: sigs };
}

export interface TestDevice {
  readonly userId: string;
  readonly deviceId: string;
  readonly token: string;
  readonly ed25519: KeyPair;
  /** Device keys signed by the device's own ed25519 key. */
  readonly deviceKeys: JsonObject;
}

export function deviceKeysFor(userId: string, deviceId: string, kp: KeyPair, extra: JsonObject = {}): JsonObject {
  const curve = encodeBase64(sodium.randombytes_buf(32));
  return sign(
    {
      user_id: userId,
      device_id: deviceId,
      algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
      keys: { [`curve25519:${deviceId}`]: curve, [`ed25519:${deviceId}`]: kp.publicKey },
      ...extra,
    },
    userId,
    `ed25519:${deviceId}`,
    kp,
  );
}

/** A cross-signing key object for `userId`, signed by `signer` (the master key) when given. */
export function crossSigningKey(userId: string, usage: string, kp: KeyPair, signer?: KeyPair): JsonObject {
  const key: JsonObject = { user_id: userId, usage: [usage], keys: { [`ed25519:${kp.publicKey}`]: kp.publicKey } };
  return signer ? sign(key, userId, `ed25519:${signer.publicKey}`, signer) : key;
}

/** A signed one-time key object. */
export function oneTimeKey(device: TestDevice, fallback = false): JsonObject {
  const key: JsonObject = { key: encodeBase64(sodium.randombytes_buf(32)) };
  if (fallback) key.fallback = true;
  return sign(key, device.userId, `ed25519:${device.deviceId}`, device.ed25519);
}

export interface Harness {
  readonly db: TestDatabase;
  readonly app: TestApp;
  readonly e2ee: E2ee;
  readonly notifications: StreamChange[];
  readonly logLines: string[];
  /** user ID → users sharing a room with them. */
  readonly sharing: Map<string, string[]>;
  sharingChanges: SharingChanges;
  /** Whether the fake UIA accepts the request; every call is counted. */
  uia: { pass: boolean; calls: number };
  readonly toDeviceWriter: StreamWriter;
  readonly deviceListsWriter: StreamWriter;
  device(userId: string, deviceId: string, opts?: { displayName?: string | null; guest?: boolean }): TestDevice;
  removeDevice(userId: string, deviceId: string): void;
  /** A token with no device (as an application service may hold). */
  devicelessToken(userId: string): string;
  call(method: string, path: string, opts?: { token?: string; body?: unknown; raw?: string }): Promise<{ status: number; json: any }>;
  close(): Promise<void>;
}

export async function startHarness(): Promise<Harness> {
  const db = await createTestDatabase();
  const notifications: StreamChange[] = [];
  const logLines: string[] = [];
  const log: Logger = { ...silentLogger, info: (m) => logLines.push(m), warn: (m) => logLines.push(m) };
  const toDeviceWriter = await StreamWriter.open(db.sql, 'to_device', 'main', silentLogger);
  const deviceListsWriter = await StreamWriter.open(db.sql, 'device_lists', 'main', silentLogger);
  const devices = new Map<string, Map<string, string | null>>();
  const tokens = new Map<string, Requester>();
  const sharing = new Map<string, string[]>();
  const h = {
    sharingChanges: { joined: [], left: [] } as SharingChanges,
    uia: { pass: false, calls: 0 },
  };
  const e2ee = createE2ee({
    sql: db.sql,
    serverName: SERVER,
    log,
    notify: (c) => notifications.push(c),
    toDeviceWriter,
    deviceListsWriter,
    listDevices: async (userIds) =>
      userIds.flatMap((u) => [...(devices.get(u) ?? new Map<string, string | null>())].map(([deviceId, displayName]) => ({ userId: u, deviceId, displayName }))),
    requireUserInteractiveAuth: async () => {
      h.uia.calls++;
      if (!h.uia.pass) throw new MatrixError(401, 'M_UNAUTHORIZED', '', { flows: [{ stages: ['m.login.password'] }], params: {}, session: 'S' });
    },
    getUsersSharingRoomWith: async (userId) => sharing.get(userId) ?? [],
    getSharingChangesBetween: async () => h.sharingChanges,
  });
  const app = await startTestApp({
    endpoints: e2eeEndpoints,
    handlers: e2ee.handlers,
    authenticate: async (req) => {
      const auth = req.headers.authorization;
      if (!auth) throw errors.missingToken();
      const r = tokens.get(auth.replace(/^Bearer /, ''));
      if (!r) throw errors.unknownToken();
      return r;
    },
  });
  return Object.assign(h, {
    db,
    app,
    e2ee,
    notifications,
    logLines,
    sharing,
    toDeviceWriter,
    deviceListsWriter,
    device(userId: string, deviceId: string, opts: { displayName?: string | null; guest?: boolean } = {}): TestDevice {
      let map = devices.get(userId);
      if (!map) devices.set(userId, (map = new Map()));
      map.set(deviceId, opts.displayName === undefined ? `${deviceId} phone` : opts.displayName);
      const token = `tok_${userId}_${deviceId}`;
      tokens.set(token, { userId, deviceId, isGuest: opts.guest ?? false, isAdmin: false });
      const ed25519 = newKeyPair();
      return { userId, deviceId, token, ed25519, deviceKeys: deviceKeysFor(userId, deviceId, ed25519) };
    },
    removeDevice(userId: string, deviceId: string): void {
      devices.get(userId)?.delete(deviceId);
    },
    devicelessToken(userId: string): string {
      const token = `tok_${userId}_nodevice`;
      tokens.set(token, { userId, isGuest: false, isAdmin: false, appserviceId: 'as1' });
      return token;
    },
    async call(method: string, path: string, opts: { token?: string; body?: unknown; raw?: string } = {}) {
      const res = await fetch(app.baseUrl + path, {
        method,
        headers: { ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), 'content-type': 'application/json' },
        body: opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)),
      });
      const text = await res.text();
      return { status: res.status, json: text ? JSON.parse(text) : undefined };
    },
    async close() {
      await app.close();
      await db.close();
    },
  });
}

export const V3 = '/_matrix/client/v3';
