/** The whole endpoint manifest: every package's declarations, in one table (DESIGN.md §5). */
import { discoveryEndpoints } from '@hs/discovery';
import { keyServerEndpoints } from '@hs/federation';
import { builtinEndpoints, Manifest, type EndpointDecl } from '@hs/http';

export const ALL_ENDPOINTS: readonly EndpointDecl[] = [...builtinEndpoints, ...discoveryEndpoints, ...keyServerEndpoints];

export function createManifest(): Manifest {
  return new Manifest(ALL_ENDPOINTS);
}
