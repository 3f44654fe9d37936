/** The whole endpoint manifest: every package's declarations, in one table (DESIGN.md §5). */
import { accountDataEndpoints } from '@hs/account-data';
import { accountsEndpoints } from '@hs/accounts';
import { discoveryEndpoints } from '@hs/discovery';
import { e2eeEndpoints } from '@hs/e2ee';
import { ephemeralEndpoints } from '@hs/ephemeral';
import { keyServerEndpoints } from '@hs/federation';
import { builtinEndpoints, Manifest, type EndpointDecl } from '@hs/http';
import { mediaEndpoints } from '@hs/media';
import { pushEndpoints, pushNotificationEndpoints } from '@hs/push';
import { roomApiEndpoints } from '@hs/room-api';
import { roomsEndpoints } from '@hs/rooms';
import { syncEndpoints } from '@hs/sync';

export const ALL_ENDPOINTS: readonly EndpointDecl[] = [
  ...builtinEndpoints,
  ...discoveryEndpoints,
  ...keyServerEndpoints,
  ...accountsEndpoints,
  ...roomsEndpoints,
  ...roomApiEndpoints,
  ...syncEndpoints,
  ...mediaEndpoints,
  ...pushEndpoints,
  ...pushNotificationEndpoints,
  ...e2eeEndpoints,
  ...accountDataEndpoints,
  ...ephemeralEndpoints,
];

export function createManifest(): Manifest {
  return new Manifest(ALL_ENDPOINTS);
}
