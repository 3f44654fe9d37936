/**
 * Sync filters: uploaded once and referred to by ID, or given inline to /sync. IDs are small
 * per-user integers (as Synapse issues them, so never starting with `{`); uploading a filter identical
 * to one the user already has returns its ID instead of storing a copy.
 */
import { createHash } from 'node:crypto';
import { MatrixError, canonicalJson, errors, isJsonObject, type JsonObject } from '@hs/core';
import { BodySchemas } from '@hs/http';
import type { Sql } from '@hs/storage';

export const FILTER_SCHEMA = 'client/filter';
const UNIQUE_VIOLATION = '23505';

let schemas: BodySchemas | undefined;

/** Check a filter against `schemas/client/filter.schema.json`; throws the Matrix error for the first problem. */
export function validateFilter(filter: unknown): asserts filter is JsonObject {
  schemas ??= new BodySchemas();
  if (!isJsonObject(filter)) throw errors.badJson('A filter must be a JSON object.');
  schemas.check(FILTER_SCHEMA, filter);
}

function filterHash(filter: JsonObject): string {
  let text: string;
  try {
    text = canonicalJson(filter, { lenientNumbers: true });
  } catch {
    text = JSON.stringify(filter); // too deep or odd numbers: still a stable key for identical input
  }
  return createHash('sha256').update(text).digest('hex');
}

/** Store `filter` (already validated) for `userId`; returns its ID. */
export async function createFilter(sql: Sql, userId: string, filter: JsonObject): Promise<string> {
  const hash = filterHash(filter);
  for (let attempt = 0; ; attempt++) {
    const [existing] = await sql<{ filter_id: number }[]>`
      SELECT filter_id FROM user_filters WHERE user_id = ${userId} AND filter_hash = ${hash} AND filter_json = ${sql.json(filter)}
      LIMIT 1`;
    if (existing) return String(existing.filter_id);
    try {
      const [row] = await sql<{ filter_id: number }[]>`
        INSERT INTO user_filters (user_id, filter_id, filter_json, filter_hash)
        SELECT ${userId}, COALESCE(MAX(filter_id) + 1, 0), ${sql.json(filter)}, ${hash}
        FROM user_filters WHERE user_id = ${userId}
        RETURNING filter_id`;
      return String((row as { filter_id: number }).filter_id);
    } catch (e) {
      // Two uploads raced for the same next ID: take another turn.
      if ((e as { code?: string }).code !== UNIQUE_VIOLATION || attempt >= 5) throw e;
    }
  }
}

/** A stored filter, or null when `filterId` names none of the user's filters. */
export async function getFilter(sql: Sql, userId: string, filterId: string): Promise<JsonObject | null> {
  if (!/^(0|[1-9][0-9]{0,15})$/.test(filterId)) return null;
  const [row] = await sql<{ filter_json: JsonObject }[]>`
    SELECT filter_json FROM user_filters WHERE user_id = ${userId} AND filter_id = ${Number(filterId)}`;
  return row?.filter_json ?? null;
}

/**
 * /sync's `filter` parameter: inline JSON (starts with `{`) or the ID of a stored filter. Unparseable
 * JSON is 400 M_NOT_JSON; an invalid filter or an unknown ID is 400 M_INVALID_PARAM.
 */
export async function loadFilter(sql: Sql, userId: string, idOrJson: string): Promise<JsonObject> {
  if (idOrJson.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(idOrJson);
    } catch {
      throw errors.notJson('Invalid filter JSON');
    }
    try {
      validateFilter(parsed);
    } catch (e) {
      if (e instanceof MatrixError) throw errors.invalidParam(`Invalid filter: ${e.message}`);
      throw e;
    }
    return parsed;
  }
  const stored = await getFilter(sql, userId, idOrJson);
  if (!stored) throw errors.invalidParam('No such filter');
  return stored;
}
