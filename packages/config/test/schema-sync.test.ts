/** The TypeScript types and the JSON Schema files describe the same keys and values. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RESOURCE_NAMES, STREAM_NAMES } from '../src/config-types.ts';
import {
  RAW_CONFIG_KEYS,
  RAW_DATABASE_KEYS,
  RAW_EMBEDDED_ARGS_KEYS,
  RAW_INSTANCE_LOCATION_KEYS,
  RAW_LISTENER_KEYS,
  RAW_POSTGRES_ARGS_KEYS,
  RAW_REDIS_KEYS,
} from '../src/raw-config.ts';
import { CONFIG_SCHEMAS } from '../src/schema-validation.ts';
import { KNOWN_WORKER_APPS } from '../src/worker-app.ts';

type Schema = Record<string, any>;
const hs = CONFIG_SCHEMAS.homeserver as Schema;
const sorted = (xs: Iterable<string>) => [...xs].sort();
const keysOf = (s: Schema) => sorted(Object.keys(s['properties'] ?? {}));

describe('schema and types agree', () => {
  it('top-level keys', () => assert.deepEqual(keysOf(hs), sorted(RAW_CONFIG_KEYS)));
  it('listener keys', () => assert.deepEqual(keysOf(CONFIG_SCHEMAS.listener), sorted(RAW_LISTENER_KEYS)));
  it('redis keys', () => assert.deepEqual(keysOf(hs['$defs']['redis']), sorted(RAW_REDIS_KEYS)));
  it('database keys', () => {
    const db = CONFIG_SCHEMAS.database as Schema;
    assert.deepEqual(keysOf(db), sorted(RAW_DATABASE_KEYS));
    assert.deepEqual(keysOf(db['$defs']['embeddedArgs']), sorted(RAW_EMBEDDED_ARGS_KEYS));
    assert.deepEqual(keysOf(db['$defs']['postgresArgs']), sorted(RAW_POSTGRES_ARGS_KEYS));
  });
  it('instance_map entry keys', () => assert.deepEqual(keysOf(CONFIG_SCHEMAS.instanceLocation), sorted(RAW_INSTANCE_LOCATION_KEYS)));
  it('stream names', () => assert.deepEqual(keysOf(hs['properties']['stream_writers']), sorted(STREAM_NAMES)));
  it('resource names', () => {
    assert.deepEqual(sorted((CONFIG_SCHEMAS.listener as Schema)['$defs']['resourceName']['enum']), sorted(RESOURCE_NAMES));
  });
  it('worker apps', () => {
    const allowed: string[] = hs['properties']['worker_app']['enum'];
    for (const app of KNOWN_WORKER_APPS) {
      assert.ok(allowed.includes(app), app);
      assert.ok(allowed.includes(app.replace('synapse.app.', '')), app);
    }
  });
  it('every property explains what it expects', () => {
    const missing: string[] = [];
    const walk = (s: unknown, at: string) => {
      if (typeof s !== 'object' || s === null) return;
      const o = s as Schema;
      for (const [k, v] of Object.entries(o['properties'] ?? {})) {
        if (!('$ref' in (v as Schema)) && !('x-expected' in (v as Schema))) missing.push(`${at}.${k}`);
        walk(v, `${at}.${k}`);
      }
      for (const [k, v] of Object.entries(o['$defs'] ?? {})) walk(v, `${at}#${k}`);
    };
    for (const [name, schema] of Object.entries(CONFIG_SCHEMAS)) walk(schema, name);
    assert.deepEqual(missing, []);
  });
});
