/**
 * The headers media is served with. Uploaded bytes are attacker-controlled, so the browser is told
 * to treat them as inert: a sandboxing CSP, `attachment` for every type not known to be safe inline,
 * no MIME sniffing, no referrer, not indexed. Values follow Synapse's.
 */

/** Text types that get `; charset=UTF-8` when the uploader gave none. */
const TEXT_TYPES = new Set([
  'text/css',
  'text/csv',
  'text/html',
  'text/calendar',
  'text/plain',
  'text/javascript',
  'application/json',
  'application/ld+json',
  'application/rtf',
  'image/svg+xml',
  'text/xml',
]);

/** Types a browser may display in place (the spec's "serving inline content" list). SVG is deliberately absent. */
const INLINE_TYPES = new Set([
  'text/css',
  'text/plain',
  'text/csv',
  'application/json',
  'application/ld+json',
  'image/jpeg',
  'image/gif',
  'image/png',
  'image/apng',
  'image/webp',
  'image/avif',
  'video/mp4',
  'video/webm',
  'video/ogg',
  'video/quicktime',
  'audio/mp4',
  'audio/webm',
  'audio/aac',
  'audio/mpeg',
  'audio/ogg',
  'audio/wave',
  'audio/wav',
  'audio/x-wav',
  'audio/x-pn-wav',
  'audio/flac',
  'audio/x-flac',
]);

export const MEDIA_CSP =
  "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; style-src 'unsafe-inline'; media-src 'self'; object-src 'self';";

/** Media never changes once uploaded, so one constant ETag lets caches revalidate cheaply. */
export const MEDIA_ETAG = '1';

/** Printable ASCII only: anything else is not a media type and could not be sent as a header anyway. */
export function sanitizeMediaType(mediaType: string | null | undefined): string {
  const t = (mediaType ?? '').trim();
  return t.length > 0 && t.length <= 255 && /^[\x20-\x7e]+$/.test(t) ? t : 'application/octet-stream';
}

export function contentTypeHeader(mediaType: string): string {
  return TEXT_TYPES.has(mediaType.toLowerCase()) ? `${mediaType}; charset=UTF-8` : mediaType;
}

export function isInlineType(mediaType: string): boolean {
  return INLINE_TYPES.has((mediaType.split(';', 1)[0] ?? '').trim().toLowerCase());
}

/** RFC 2616 token characters: visible ASCII except separators. */
function isToken(s: string): boolean {
  return /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(s);
}

/** RFC 5987 `attr-char`s stay as they are; every other UTF-8 byte is %-encoded. */
function encodeExtValue(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9!#$&+\-.^_`|~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * `inline` or `attachment` by type, with the file name as a plain token when it is one and as an
 * RFC 6266 `filename*` otherwise — always pure ASCII, whatever the name holds.
 */
export function contentDisposition(mediaType: string, fileName: string | null): string {
  const disposition = isInlineType(mediaType) ? 'inline' : 'attachment';
  if (!fileName) return disposition;
  return isToken(fileName) ? `${disposition}; filename=${fileName}` : `${disposition}; filename*=utf-8''${encodeExtValue(fileName)}`;
}

/** Headers every media response (file or thumbnail) carries, apart from type and disposition. */
export function mediaSecurityHeaders(): Record<string, string> {
  return {
    'Content-Security-Policy': MEDIA_CSP,
    'X-Content-Security-Policy': 'sandbox;',
    'Cross-Origin-Resource-Policy': 'cross-origin',
    'Referrer-Policy': 'no-referrer',
    'X-Content-Type-Options': 'nosniff',
    'X-Robots-Tag': 'noindex, nofollow, noarchive, noimageindex',
  };
}

/** Browsers cache for a day; shared caches must revalidate with us (so access checks still apply). */
export function mediaCacheHeaders(): Record<string, string> {
  return { 'Cache-Control': 'public,max-age=86400,s-maxage=0,proxy-revalidate', ETag: MEDIA_ETAG };
}
