/**
 * Checks on POST /pushers/set beyond its body schema (which has already required `kind`, `app_id`,
 * `pushkey`, and the rest when `kind` is not null, with their JSON types): the spec's length limits,
 * the kinds we run, the http pusher's gateway URL (Synapse's check), and text that Postgres can store.
 */
import { MatrixError, errors, type JsonObject } from '@hs/core';

/** The spec's limits (POST /pushers/set): app_id 64 characters, pushkey 512 bytes. */
export const MAX_APP_ID_CHARS = 64;
export const MAX_PUSHKEY_BYTES = 512;
/** Push gateways are called at this path (push gateway API). */
export const PUSH_GATEWAY_PATH = '/_matrix/push/v1/notify';

export type PusherRequest =
  | { readonly kind: null; readonly appId: string; readonly pushkey: string }
  | {
      readonly kind: 'http';
      readonly appId: string;
      readonly pushkey: string;
      readonly appDisplayName: string;
      readonly deviceDisplayName: string;
      readonly profileTag?: string;
      readonly lang: string;
      readonly data: JsonObject;
      readonly append: boolean;
    };

/** Text Postgres can hold and JSON it can parse back: no NUL, no lone surrogates, at any depth. */
function storable(value: unknown, depth = 0): boolean {
  if (depth > 64) return false;
  if (typeof value === 'string') return !value.includes('\u0000') && value.isWellFormed();
  if (Array.isArray(value)) return value.every((v) => storable(v, depth + 1));
  if (typeof value === 'object' && value !== null) return Object.entries(value).every(([k, v]) => storable(k) && storable(v, depth + 1));
  return true;
}

/** Synapse answers every problem with the pusher's configuration like this. */
const configError = (msg: string): MatrixError => new MatrixError(400, 'M_MISSING_PARAM', `Config Error: ${msg}`);

function checkGatewayUrl(data: JsonObject): void {
  if (!Object.hasOwn(data, 'url')) throw configError("'url' required in data for HTTP pusher");
  const url = data.url;
  if (typeof url !== 'string') throw configError("'url' must be a string");
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw configError("'url' must be an absolute URL");
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw configError("'url' must be an http or https URL");
  if (parsed.pathname !== PUSH_GATEWAY_PATH) throw configError(`'url' must have a path of '${PUSH_GATEWAY_PATH}'`);
}

export function checkPusherRequest(body: Record<string, unknown>): PusherRequest {
  const appId = body.app_id as string;
  const pushkey = body.pushkey as string;
  if (!storable(body)) throw errors.invalidParam('Pusher fields must be valid text without NUL characters.');
  if ([...appId].length > MAX_APP_ID_CHARS) throw errors.invalidParam(`app_id must be at most ${MAX_APP_ID_CHARS} characters.`);
  if (Buffer.byteLength(pushkey) > MAX_PUSHKEY_BYTES) throw errors.invalidParam(`pushkey must be at most ${MAX_PUSHKEY_BYTES} bytes.`);
  if (body.kind === null) return { kind: null, appId, pushkey };
  if (body.kind === 'email') {
    throw errors.invalidParam('Email pushers are not available: this server does not send email notifications.');
  }
  if (body.kind !== 'http') throw errors.invalidParam(`Unsupported pusher kind: ${JSON.stringify(body.kind)}`);
  const data = body.data as JsonObject;
  checkGatewayUrl(data);
  return {
    kind: 'http',
    appId,
    pushkey,
    appDisplayName: body.app_display_name as string,
    deviceDisplayName: body.device_display_name as string,
    ...(typeof body.profile_tag === 'string' ? { profileTag: body.profile_tag } : {}),
    lang: body.lang as string,
    data,
    append: body.append === true,
  };
}
