/**
 * `docs/endpoints.md`, generated from the endpoint manifest so the page cannot drift from the code:
 * every endpoint, which process kinds may serve it, the stream it writes and how a proxy balances it.
 * `npm run docs:endpoints` rewrites it; a test fails when it is stale.
 */
import { proxyRegex, type EndpointDecl } from '@hs/http';

export function renderEndpointDocs(endpoints: readonly EndpointDecl[]): string {
  const lines = [
    '# Endpoints',
    '',
    '<!-- Generated from the endpoint manifest by `npm run docs:endpoints`; do not edit by hand. -->',
    '',
    'Every HTTP endpoint the server declares. **Workers** lists the process kinds that may serve it (a reverse',
    'proxy built with `homeserver routes` sends it there); **Writes** names the stream whose writer it belongs',
    'with; **Balance** is how requests are spread over a worker pool. Main and generic workers serve every',
    'Client-Server endpoint; a write to a stream another process writes is forwarded to its writer.',
    '',
  ];
  const groups = new Map<string, EndpointDecl[]>();
  for (const e of endpoints) {
    const group = e.resource;
    groups.set(group, [...(groups.get(group) ?? []), e]);
  }
  for (const [group, list] of groups) {
    lines.push(`## ${group}`, '', '| name | method | path regex | auth | workers | writes | balance |', '|---|---|---|---|---|---|---|');
    for (const e of list) {
      const regex = proxyRegex(e).replace(/\|/g, '\\|');
      lines.push(`| ${e.name} | ${e.method} | \`${regex}\` | ${e.auth} | ${e.workers.join(', ')} | ${e.writer ?? ''} | ${e.balance ?? ''} |`);
    }
    lines.push('');
  }
  return lines.join('\n');
}
