/**
 * The media endpoints. All sit on the `media` resource (a `client` listener implies it, as in
 * Synapse, whose media resource also carries `/_matrix/client/v1/media`) and are served by main or a
 * media_repository worker — the processes that own the media store.
 */
import type { EndpointDecl, WorkerKind } from '@hs/http';

const WORKERS: readonly WorkerKind[] = ['main', 'media_repository'];
/** Synapse still answers the old prefixes: a lot of traffic goes to them. */
const LEGACY_VERSIONS = { version: 'v3|r0|v1' };

export const mediaEndpoints: EndpointDecl[] = [
  // Uploads.
  { name: 'media_upload', method: 'POST', path: '/_matrix/media/{version}/upload', params: LEGACY_VERSIONS, resource: 'media', workers: WORKERS, auth: 'user', body: 'raw' },
  { name: 'media_create', method: 'POST', path: '/_matrix/media/v1/create', resource: 'media', workers: WORKERS, auth: 'user', body: 'none' },
  { name: 'media_upload_into', method: 'PUT', path: '/_matrix/media/v3/upload/{serverName}/{mediaId}', resource: 'media', workers: WORKERS, auth: 'user', body: 'raw' },

  // Authenticated media (v1.11+).
  { name: 'media_download', method: 'GET', path: '/_matrix/client/v1/media/download/{serverName}/{mediaId}', resource: 'media', workers: WORKERS, auth: 'user' },
  { name: 'media_download_named', method: 'GET', path: '/_matrix/client/v1/media/download/{serverName}/{mediaId}/{fileName}', resource: 'media', workers: WORKERS, auth: 'user' },
  { name: 'media_thumbnail', method: 'GET', path: '/_matrix/client/v1/media/thumbnail/{serverName}/{mediaId}', resource: 'media', workers: WORKERS, auth: 'user' },
  { name: 'media_config', method: 'GET', path: '/_matrix/client/v1/media/config', resource: 'media', workers: WORKERS, auth: 'user' },

  // Legacy unauthenticated media: frozen, serves only media from before authenticated media was enforced.
  { name: 'media_legacy_download', method: 'GET', path: '/_matrix/media/{version}/download/{serverName}/{mediaId}', params: LEGACY_VERSIONS, resource: 'media', workers: WORKERS, auth: 'none' },
  { name: 'media_legacy_download_named', method: 'GET', path: '/_matrix/media/{version}/download/{serverName}/{mediaId}/{fileName}', params: LEGACY_VERSIONS, resource: 'media', workers: WORKERS, auth: 'none' },
  { name: 'media_legacy_thumbnail', method: 'GET', path: '/_matrix/media/{version}/thumbnail/{serverName}/{mediaId}', params: LEGACY_VERSIONS, resource: 'media', workers: WORKERS, auth: 'none' },
  { name: 'media_legacy_config', method: 'GET', path: '/_matrix/media/{version}/config', params: LEGACY_VERSIONS, resource: 'media', workers: WORKERS, auth: 'user' },
];
