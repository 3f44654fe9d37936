/**
 * What clients and servers ask first: which spec versions we speak (`/_matrix/client/versions`) and the
 * `.well-known` delegation documents. `.well-known` answers only what the operator configured.
 */
import { errors, type JsonObject } from '@hs/core';
import type { EndpointDecl, Handler } from '@hs/http';

/**
 * The client-server spec versions this server satisfies, oldest first. A version is listed when every
 * endpoint and behaviour it makes mandatory exists here; modules the spec's feature profiles leave
 * optional for every client (Spaces, Server Administration, Mutual Rooms, Invite permission, Policy
 * Servers, Third-party networks, SSO) and things a server may switch off or not offer (URL previews,
 * `login/get_token`, the OAuth 2.0 API, 3PID changes, `/.well-known/matrix/support`) do not block a
 * version. Application services are not supported at all, so the client-server additions made for them
 * (v1.7's /appservice/ping, v1.17's device masquerading) do not block either. Clients switch behaviour
 * on these strings (matrix-js-sdk: threads at v1.3/v1.4, authenticated media at v1.11, the stable
 * room summary at v1.15, extended profiles at v1.16), so a version must not be listed before what it
 * switches to works.
 *
 * version        relied on here                                          lacking (why it does not block)
 * r0.0.1–r0.6.1  the r0 API, served under /r0/ and /v3/ (listed as       deprecated /events and /initialSync; 3PID
 *                Synapse does, for old clients)                          management; /voip/turnServer (TURN is a MAY);
 *                                                                        /admin/whois (optional module)
 * v1.1           /v3/ paths, key backup, cross-signing, knocking,
 *                device_id in whoami
 * v1.2           registration tokens, fallback keys, is_guest,           /v1/rooms/{roomId}/hierarchy (optional
 *                restricted rooms                                        Spaces module)
 * v1.3           refresh tokens, relations + aggregations, /messages
 *                without `from`, room version 10
 * v1.4           /threads, m.read.private, threaded receipts and
 *                counts, room_types in /publicRooms, edits, media CORP
 * v1.5–v1.6      timestamp_to_event, 404/405 M_UNRECOGNIZED
 * v1.7           async uploads (/media/v1/create), mentions push         login/get_token (off, as its capability says)
 *                rules, event_property_*, per-device txn IDs
 * v1.8–v1.9      room version 11, .m.rule.suppress_edits
 * v1.10          `recurse` on /relations, `erase` on deactivate          /.well-known/matrix/support (404 when unset)
 * v1.11          authenticated /_matrix/client/v1/media/*,               /v1/media/preview_url (as Synapse with
 *                unsigned.membership, no UIA for first cross-signing     url_preview_enabled: false, its default)
 * v1.12          `via` on join/knock, m.get_login_token capability
 * v1.13          room reports, one-time keys claimed oldest first
 * v1.14          user reports
 * v1.15          /v1/room_summary/{roomIdOrAlias} (sign-in optional),    /v1/auth_metadata (no OAuth 2.0 API: 404
 *                rich `m.topic` read as plain text                       M_UNRECOGNIZED, as the spec allows)
 * v1.16          custom profile fields /profile/{userId}/{keyName} and
 *                m.profile_fields, use_state_after, `format` on
 *                /state/{type}/{key}, room version 12 (the default),
 *                m.room.create in invite/knock stripped state
 * v1.17          no legacy body-mention push rules by default            m.oauth UIA stage (no OAuth 2.0 API)
 * v1.18          m.room.redaction through /send, m.forget_forced_upon_   /admin/suspend, /admin/lock (Server
 *                leave capability                                        Administration); invite blocking (Invite
 *                                                                        permission); Policy Servers; OAuth additions
 * v1.19          unsigned.replaces_state                                 /v1/mutual_rooms (Mutual Rooms module); image
 *                                                                        packs, history sharing, m.key_backup (client
 *                                                                        side only)
 */
export const SUPPORTED_CLIENT_VERSIONS: readonly string[] = [
  'r0.0.1',
  'r0.1.0',
  'r0.2.0',
  'r0.3.0',
  'r0.4.0',
  'r0.5.0',
  'r0.6.0',
  'r0.6.1',
  'v1.1',
  'v1.2',
  'v1.3',
  'v1.4',
  'v1.5',
  'v1.6',
  'v1.7',
  'v1.8',
  'v1.9',
  'v1.10',
  'v1.11',
  'v1.12',
  'v1.13',
  'v1.14',
  'v1.15',
  'v1.16',
  'v1.17',
  'v1.18',
  'v1.19',
];

/**
 * Unstable features we implement, under the names clients probe for. Only what really works: a flag for
 * an MSC already in a listed version stays only while clients still look for the flag.
 */
export const UNSTABLE_FEATURES: Readonly<Record<string, boolean>> = {
  // MSC4222 (spec v1.16): /sync takes `org.matrix.msc4222.use_state_after` and answers with
  // `org.matrix.msc4222.state_after` (and the stable names). matrix-js-sdk still sends the unstable name.
  'org.matrix.msc4222': true,
  // MSC3916 (spec v1.11): the authenticated `/_matrix/client/v1/media/*` download, thumbnail and config
  // endpoints; clients from before v1.11 look for this flag.
  'org.matrix.msc3916.stable': true,
};

export interface DiscoveryOptions {
  readonly serverName: string;
  /** `public_baseurl`, when the operator set one: advertised as the client base URL. */
  readonly publicBaseurl: string | null;
  /** `serve_server_wellknown`: delegate federation to port 443 of the server name. */
  readonly serveServerWellknown: boolean;
  readonly extraWellKnownClientContent?: JsonObject;
  /** Added to (and overriding) `UNSTABLE_FEATURES`, e.g. for configuration-dependent flags. */
  readonly unstableFeatures?: Readonly<Record<string, boolean>>;
}

const everyHttpProcess = ['main', 'generic_worker'] as const;

export const discoveryEndpoints: EndpointDecl[] = [
  { name: 'client_versions', method: 'GET', path: '/_matrix/client/versions', resource: 'client', workers: everyHttpProcess, auth: 'none', cors: true },
  { name: 'well_known_client', method: 'GET', path: '/.well-known/matrix/client', resource: 'client', workers: everyHttpProcess, auth: 'none', cors: true },
  { name: 'well_known_server', method: 'GET', path: '/.well-known/matrix/server', resource: 'client', workers: everyHttpProcess, auth: 'none', cors: true },
];

/** `example.org` → `example.org:443`; a server name with an explicit port is delegated as is. */
export function delegatedServer(serverName: string): string {
  const hasPort = serverName.startsWith('[') ? /\]:\d+$/.test(serverName) : /:\d+$/.test(serverName);
  return hasPort ? serverName : `${serverName}:443`;
}

export function createDiscoveryHandlers(opts: DiscoveryOptions): Map<string, Handler> {
  const versions = { versions: [...SUPPORTED_CLIENT_VERSIONS], unstable_features: { ...UNSTABLE_FEATURES, ...opts.unstableFeatures } };
  const clientDoc = opts.publicBaseurl
    ? { ...opts.extraWellKnownClientContent, 'm.homeserver': { base_url: opts.publicBaseurl } }
    : undefined;
  const serverDoc = opts.serveServerWellknown ? { 'm.server': delegatedServer(opts.serverName) } : undefined;
  return new Map<string, Handler>([
    ['client_versions', () => ({ body: versions })],
    [
      'well_known_client',
      () => {
        if (!clientDoc) throw errors.notFound('No .well-known/matrix/client configured (set public_baseurl).');
        return { body: clientDoc };
      },
    ],
    [
      'well_known_server',
      () => {
        if (!serverDoc) throw errors.notFound('No .well-known/matrix/server configured (set serve_server_wellknown).');
        return { body: serverDoc, headers: { 'Cache-Control': 'max-age=86400' } };
      },
    ],
  ]);
}
