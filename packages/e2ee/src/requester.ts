/** Small request helpers shared by the e2ee handlers. */
import { errors, MatrixError } from '@hs/core';
import type { RequestContext, Requester } from '@hs/http';

/** The authenticated requester (every e2ee endpoint is `auth: 'user'`, so the app has set it). */
export function requesterOf(ctx: RequestContext): Requester {
  if (!ctx.requester) throw errors.missingToken();
  return ctx.requester;
}

/** Key backups and cross-signing key upload are closed to guests, as in Synapse. */
export function requireNonGuest(ctx: RequestContext): Requester {
  const r = requesterOf(ctx);
  if (r.isGuest) throw new MatrixError(403, 'M_GUEST_ACCESS_FORBIDDEN', 'Guest access not allowed');
  return r;
}
