/**
 * `POST /account/password` and `POST /account/deactivate`, both behind UIA with the user's password.
 * Changing the password logs out the user's other devices unless `logout_devices` is false.
 * Deactivation wipes the password, deletes every device and token, optionally erases the profile,
 * and tells rooms (through `onDeactivated`) so they can make the user leave.
 */
import type { Handler } from '@hs/http';
import { notifyDevicesChanged, runHook, type AccountsDeps } from './deps.ts';
import { requireNotGuest } from './login.ts';
import { hashPassword } from './password-hash.ts';
import { checkPasswordLength } from './registration.ts';
import { deleteOtherDevicesIn } from './sessions.ts';
import { tokenCacheFor } from './token-cache.ts';
import type { UserInteractiveAuth } from './uia.ts';

export function accountHandlers(deps: AccountsDeps, uia: UserInteractiveAuth): Record<string, Handler> {
  return {
    account_password: async (ctx) => {
      const requester = requireNotGuest(ctx.requester);
      const body = ctx.body as { new_password: string; logout_devices?: boolean };
      checkPasswordLength(body.new_password);
      await uia.requireUser(ctx, 'change your password', ['new_password']);
      const hash = await hashPassword(body.new_password, deps.passwordHashing);
      const logoutDevices = body.logout_devices !== false;
      const deleted = await deps.sql.begin(async (tx) => {
        await tx`UPDATE users SET password_hash = ${hash} WHERE user_id = ${requester.userId}`;
        if (!logoutDevices) return [];
        const gone = await deleteOtherDevicesIn(tx, requester.userId, requester.deviceId ?? null);
        // Other tokens of this device (and device-less ones) go too; the requesting token stays.
        await tx`DELETE FROM access_tokens WHERE user_id = ${requester.userId} AND id <> ${requester.tokenId ?? -1}`;
        return gone;
      });
      if (logoutDevices) {
        tokenCacheFor(deps.sql).invalidateUser(requester.userId);
        await notifyDevicesChanged(deps, requester.userId, deleted);
      }
      return { body: {} };
    },

    account_deactivate: async (ctx) => {
      const requester = requireNotGuest(ctx.requester);
      const result = await uia.requireUser(ctx, 'deactivate your account');
      const erase = result.params.erase === true;
      const userId = requester.userId;
      const deleted = await deps.sql.begin(async (tx) => {
        await tx`UPDATE users SET deactivated = TRUE, password_hash = NULL, erased = erased OR ${erase} WHERE user_id = ${userId}`;
        const gone = await deleteOtherDevicesIn(tx, userId, null);
        await tx`DELETE FROM access_tokens WHERE user_id = ${userId}`;
        await tx`DELETE FROM login_tokens WHERE user_id = ${userId}`;
        if (erase) await tx`UPDATE profiles SET displayname = NULL, avatar_url = NULL WHERE user_id = ${userId}`;
        if (erase) await tx`DELETE FROM profile_fields WHERE user_id = ${userId}`;
        return gone;
      });
      tokenCacheFor(deps.sql).invalidateUser(userId);
      await notifyDevicesChanged(deps, userId, deleted);
      if (erase && deps.onProfileChanged) {
        const hook = deps.onProfileChanged;
        await runHook(deps.log, 'onProfileChanged', () => hook(userId, {}));
      }
      if (deps.onDeactivated) {
        const hook = deps.onDeactivated;
        await runHook(deps.log, 'onDeactivated', () => hook(userId));
      }
      // No third-party IDs are ever bound here, so there is nothing to unbind.
      return { body: { id_server_unbind_result: 'success' } };
    },
  };
}
