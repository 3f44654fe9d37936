/**
 * The "which endpoints go where" tables of docs/workers.md, generated from the endpoint manifest's
 * `workers`, `writer` and `balance` fields through the same `routeTarget` that `homeserver routes` uses,
 * so the page cannot drift from the proxy configuration. `node apps/homeserver/src/worker-docs.ts`
 * rewrites the generated section; a test fails when it is stale.
 */
import fs from 'node:fs';
import path from 'node:path';
import { proxyRegex, routeTarget, type Balance, type EndpointDecl } from '@hs/http';

export const BEGIN_MARK = '<!-- BEGIN generated worker routing tables: `node apps/homeserver/src/worker-docs.ts` rewrites this section -->';
export const END_MARK = '<!-- END generated worker routing tables -->';

const BALANCE_TEXT: Record<Balance, string> = {
  any: 'any',
  access_token: 'access token',
  room: 'room ID',
  source_ip: 'source IP',
};

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

export function renderWorkerRoutingTables(endpoints: readonly EndpointDecl[]): string {
  const generic: string[] = [];
  const media: string[] = [];
  const mainOnly: string[] = [];
  for (const decl of endpoints) {
    const target = routeTarget(decl);
    if (!target) continue;
    const regex = `\`${cell(proxyRegex(decl))}\``;
    if (target.pools.includes('generic_worker')) {
      const writer = target.writer ? `\`${target.writer}\` writer` : '';
      generic.push(`| ${decl.method} | ${regex} | ${writer} | ${BALANCE_TEXT[target.balance]} | ${decl.name} |`);
    } else if (target.pools.includes('media_repository')) {
      media.push(`| ${decl.method} | ${regex} | ${decl.name} |`);
    } else {
      mainOnly.push(`| ${decl.method} | ${regex} | ${decl.name} |`);
    }
  }
  const none = (rows: string[], cols: number) => (rows.length > 0 ? rows : [`| ${Array.from({ length: cols }, (_, i) => (i === 0 ? '(none)' : '')).join(' | ')} |`]);
  return [
    BEGIN_MARK,
    '',
    `### Generic workers (${generic.length} endpoints)`,
    '',
    'Sent to the generic-worker pool, balanced as shown; a **writer** entry means the endpoint goes to that',
    "stream's writer instead when `stream_writers` names a worker with a client listener.",
    '',
    '| method | path regex | writer | balance | endpoint |',
    '|---|---|---|---|---|',
    ...none(generic, 5),
    '',
    `### Media repository workers (${media.length} endpoints)`,
    '',
    '| method | path regex | endpoint |',
    '|---|---|---|',
    ...none(media, 3),
    '',
    `### Main process only (${mainOnly.length} endpoints)`,
    '',
    '| method | path regex | endpoint |',
    '|---|---|---|',
    ...none(mainOnly, 3),
    '',
    END_MARK,
  ].join('\n');
}

/** The document with its generated section replaced; throws when the markers are missing. */
export function withWorkerRoutingTables(doc: string, endpoints: readonly EndpointDecl[]): string {
  const start = doc.indexOf(BEGIN_MARK);
  const end = doc.indexOf(END_MARK);
  if (start < 0 || end < start) throw new Error('docs/workers.md has lost its generated-section markers');
  return doc.slice(0, start) + renderWorkerRoutingTables(endpoints) + doc.slice(end + END_MARK.length);
}

if (import.meta.main) {
  const { ALL_ENDPOINTS } = await import('./endpoints.ts');
  const file = path.resolve(import.meta.dirname, '../../../docs/workers.md');
  fs.writeFileSync(file, withWorkerRoutingTables(fs.readFileSync(file, 'utf8'), ALL_ENDPOINTS));
  console.log(`rewrote the routing tables in ${file}`);
}
