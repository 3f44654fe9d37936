/**
 * The push rule endpoints (client-server API › Push Rules: API). Reads run on any client-serving
 * process (Synapse's generic worker serves GET /pushrules/); writes go to the push_rules stream writer.
 */
import type { EndpointDecl } from '@hs/http';

const workers = ['main', 'generic_worker'] as const;
const params = { version: 'v3|r0', scope: 'global', kind: 'override|underride|sender|room|content' };
const base = '/_matrix/client/{version}/pushrules';
const rule = `${base}/{scope}/{kind}/{ruleId}`;

const read = { resource: 'client', workers, auth: 'user', cors: true, params } as const;
const write = { ...read, writer: 'push_rules' } as const;

export const pushEndpoints: EndpointDecl[] = [
  { name: 'pushrules_get_all', method: 'GET', path: `${base}/`, ...read },
  { name: 'pushrules_get_global', method: 'GET', path: `${base}/{scope}/`, ...read },
  { name: 'pushrules_get_rule', method: 'GET', path: rule, ...read },
  { name: 'pushrules_put_rule', method: 'PUT', path: rule, ...write, bodySchema: 'client/pushrule' },
  { name: 'pushrules_delete_rule', method: 'DELETE', path: rule, ...write },
  { name: 'pushrules_get_enabled', method: 'GET', path: `${rule}/enabled`, ...read },
  { name: 'pushrules_put_enabled', method: 'PUT', path: `${rule}/enabled`, ...write, bodySchema: 'client/pushrule-enabled' },
  { name: 'pushrules_get_actions', method: 'GET', path: `${rule}/actions`, ...read },
  { name: 'pushrules_put_actions', method: 'PUT', path: `${rule}/actions`, ...write, bodySchema: 'client/pushrule-actions' },
];
