export { accountsEndpoints } from './endpoints.ts';
export { createAccountsHandlers } from './handlers.ts';
export type { AccountsDeps, Profile } from './deps.ts';
export { DEFAULT_REFRESHABLE_LIFETIME_MS } from './deps.ts';
export { createAuthenticator, accessTokenOf, type AccountsAuthenticator, type AuthenticatorDeps } from './authenticator.ts';
export {
  UserInteractiveAuth,
  UiaIncompleteError,
  LOGIN_DUMMY,
  LOGIN_PASSWORD,
  LOGIN_REGISTRATION_TOKEN,
  UIA_SESSION_LIFETIME_MS,
  type UiaDeps,
  type UiaCheck,
  type UiaResult,
  type Flow,
} from './uia.ts';
export { getFullProfile, getProfile, getProfileField, MAX_PROFILE_BYTES } from './profile-store.ts';
export { checkProfileKey, MAX_PROFILE_KEY_BYTES } from './profile.ts';
export { createLoginToken, LOGIN_TOKEN_LIFETIME_MS } from './login-tokens.ts';
export { hashPassword, verifyPassword, DEFAULT_SCRYPT, type ScryptParams } from './password-hash.ts';
export { sharedSecretMac } from './shared-secret-mac.ts';
export {
  registerWithSharedSecret,
  SharedSecretRegistrationError,
  type SharedSecretUser,
  type RegisteredUser,
} from './shared-secret-client.ts';
export { checkNewLocalpart, parseUserId } from './user-id.ts';
export { tokenCacheFor, type TokenCache } from './token-cache.ts';
