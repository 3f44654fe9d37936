/** Binds every accounts endpoint to its handler. */
import type { Handler } from '@hs/http';
import { accountHandlers } from './account.ts';
import type { AccountsDeps } from './deps.ts';
import { deviceHandlers } from './devices.ts';
import { accountsEndpoints } from './endpoints.ts';
import { loginHandlers } from './login.ts';
import { profileHandlers } from './profile.ts';
import { registrationHandlers } from './registration.ts';
import { registrationTokenAdminHandlers } from './registration-tokens.ts';
import { sharedSecretHandlers } from './shared-secret-registration.ts';
import { UserInteractiveAuth } from './uia.ts';

export function createAccountsHandlers(deps: AccountsDeps, uia = new UserInteractiveAuth(deps)): Map<string, Handler> {
  const all: Record<string, Handler> = {
    ...registrationHandlers(deps, uia),
    ...loginHandlers(deps),
    ...accountHandlers(deps, uia),
    ...deviceHandlers(deps, uia),
    ...profileHandlers(deps),
    ...sharedSecretHandlers(deps),
    ...registrationTokenAdminHandlers(deps),
  };
  const map = new Map<string, Handler>();
  for (const ep of accountsEndpoints) {
    const handler = all[ep.name];
    if (!handler) throw new Error(`accounts: no handler for endpoint ${ep.name}`);
    map.set(ep.name, handler);
  }
  return map;
}
