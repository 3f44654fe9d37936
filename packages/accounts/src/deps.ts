/**
 * What the accounts domain needs from its process: the database, the server name, a few registration
 * settings, and hooks through which other domains hear about account changes (rooms send member
 * events and leave rooms, e2ee bumps the device-list stream). Hooks are optional; a hook that fails is
 * logged and does not undo the change that was already committed.
 */
import type { Logger } from '@hs/core';
import type { Sql } from '@hs/storage';
import type { ScryptParams } from './password-hash.ts';

/** A user's profile as other domains see it: absent fields are unset. */
export interface Profile {
  displayname?: string;
  avatar_url?: string;
}

export interface AccountsDeps {
  readonly sql: Sql;
  readonly serverName: string;
  readonly log: Logger;
  /** `enable_registration`: open registration through /register. */
  readonly enableRegistration: boolean;
  /** `registration_requires_token`: /register needs an `m.login.registration_token` stage. */
  readonly registrationRequiresToken: boolean;
  /** `allow_guest_access`: /register?kind=guest works. */
  readonly allowGuestAccess: boolean;
  /** `registration_shared_secret`; null disables /_synapse/admin/v1/register. */
  readonly registrationSharedSecret: string | null;
  /**
   * Lifetime of access tokens issued with a refresh token (Synapse's `refreshable_access_token_lifetime`).
   * Default 5 minutes; null turns refresh tokens off (clients asking for one get a non-expiring token).
   */
  readonly refreshableAccessTokenLifetimeMs?: number | null;
  /** A user was deactivated (rooms make them leave). */
  readonly onDeactivated?: (userId: string) => Promise<void> | void;
  /**
   * Devices of a user were created, deleted or renamed. Deleted devices are already gone from the
   * `devices` table when this is called (e2ee bumps the device-list stream and drops their keys).
   */
  readonly onDevicesChanged?: (userId: string, deviceIds: readonly string[]) => Promise<void> | void;
  /** A user set their display name or avatar (rooms update their member events). */
  readonly onProfileChanged?: (userId: string, profile: Profile) => Promise<void> | void;
  /** Password hashing cost; defaults to N=2^15, r=8, p=1. Tests lower it. */
  readonly passwordHashing?: Partial<ScryptParams>;
  /** Clock in ms since the epoch (tests move it). */
  readonly now?: () => number;
}

/** Default `refreshable_access_token_lifetime`, as Synapse's. */
export const DEFAULT_REFRESHABLE_LIFETIME_MS = 5 * 60 * 1000;

export function refreshableLifetime(deps: Pick<AccountsDeps, 'refreshableAccessTokenLifetimeMs'>): number | null {
  return deps.refreshableAccessTokenLifetimeMs === undefined ? DEFAULT_REFRESHABLE_LIFETIME_MS : deps.refreshableAccessTokenLifetimeMs;
}

export function clock(deps: Pick<AccountsDeps, 'now'>): () => number {
  return deps.now ?? Date.now;
}

/** Run a hook after a committed change: its failure is logged, not reported to the client. */
export async function runHook(log: Logger, name: string, fn: () => Promise<void> | void): Promise<void> {
  try {
    await fn();
  } catch (e) {
    log.error(`accounts hook ${name} failed`, { error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  }
}

export function notifyDevicesChanged(deps: AccountsDeps, userId: string, deviceIds: readonly string[]): Promise<void> {
  if (!deps.onDevicesChanged || deviceIds.length === 0) return Promise.resolve();
  const hook = deps.onDevicesChanged;
  return runHook(deps.log, 'onDevicesChanged', () => hook(userId, deviceIds));
}
