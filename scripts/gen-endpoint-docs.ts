/** Rewrites docs/endpoints.md from the endpoint manifest. */
import fs from 'node:fs';
import path from 'node:path';
import { ALL_ENDPOINTS } from '../apps/homeserver/src/endpoints.ts';
import { renderEndpointDocs } from '../apps/homeserver/src/endpoint-docs.ts';

const file = path.resolve(import.meta.dirname, '../docs/endpoints.md');
fs.writeFileSync(file, renderEndpointDocs(ALL_ENDPOINTS));
console.log(`wrote ${file} (${ALL_ENDPOINTS.length} endpoints)`);
