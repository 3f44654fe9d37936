/**
 * Reading the JSON bodies other processes forward to a stream's writer, and the `{ position }` it
 * answers. The callers are our own workers, but a wrong shape must still be a 400 M_BAD_JSON — never a
 * 500, and never a row written from half-understood input. Domain packages build their own field
 * readers (push rule kinds, presence states, …) on these.
 */
import { errors, isJsonObject, looksLikeEventId, looksLikeRoomId, looksLikeUserId, type JsonObject, type JsonValue } from '@hs/core';

/** A body's fields, by name (absent ones read as undefined). */
export type Fields = Readonly<Record<string, JsonValue | undefined>>;

/** Reads field `key` of `f`, throwing M_BAD_JSON when it is not what the reader wants. */
export type FieldReader<T> = (f: Fields, key: string) => T;

/** The body as an object of fields. */
export function bodyFields(body: JsonValue | undefined): Fields {
  if (!isJsonObject(body)) throw errors.badJson('Replication body must be a JSON object');
  return body;
}

/** Postgres text holds no NUL, and lone surrogates would not survive the round trip. */
function isText(value: JsonValue | undefined): value is string {
  return typeof value === 'string' && !value.includes('\u0000') && value.isWellFormed();
}

/** Field `key` when `test` accepts it; otherwise M_BAD_JSON saying it must be `what`. */
function typedField<T extends JsonValue>(f: Fields, key: string, test: (value: JsonValue | undefined) => value is T, what: string): T {
  const value = f[key];
  if (!test(value)) throw errors.badJson(`${key} must be ${what}`);
  return value;
}

/** A string, possibly empty. */
export const textField: FieldReader<string> = (f, key) => typedField(f, key, isText, 'a string');

export const nonEmptyTextField: FieldReader<string> = (f, key) => typedField(f, key, (v): v is string => isText(v) && v !== '', 'a non-empty string');

/** Undefined when `key` is absent; otherwise `read` must accept it. */
export function optionalField<T>(f: Fields, key: string, read: FieldReader<T>): T | undefined {
  return f[key] === undefined ? undefined : read(f, key);
}

/** Null when `key` is null; otherwise (absent included) `read` must accept it. */
export function nullableField<T>(f: Fields, key: string, read: FieldReader<T>): T | null {
  return f[key] === null ? null : read(f, key);
}

function checkedText(f: Fields, key: string, test: (value: string) => boolean, what: string): string {
  const value = textField(f, key);
  if (!test(value)) throw errors.badJson(`${key} must be ${what}`);
  return value;
}

export const userIdField: FieldReader<string> = (f, key) => checkedText(f, key, looksLikeUserId, 'a user ID');
export const roomIdField: FieldReader<string> = (f, key) => checkedText(f, key, looksLikeRoomId, 'a room ID');
export const eventIdField: FieldReader<string> = (f, key) => checkedText(f, key, looksLikeEventId, 'an event ID');

export const objectField: FieldReader<JsonObject> = (f, key) => typedField(f, key, isJsonObject, 'an object');
export const booleanField: FieldReader<boolean> = (f, key) => typedField(f, key, (v) => typeof v === 'boolean', 'a boolean');
export const arrayField: FieldReader<JsonValue[]> = (f, key) => typedField(f, key, Array.isArray, 'an array');

export function textArrayField(f: Fields, key: string): string[] {
  const values = arrayField(f, key);
  if (!values.every(isText)) throw errors.badJson(`${key} must be an array of strings`);
  return values as string[];
}

/** A safe integer, of either sign. */
export const integerField: FieldReader<number> = (f, key) => typedField(f, key, (v): v is number => typeof v === 'number' && Number.isSafeInteger(v), 'an integer');

/** A non-negative safe integer (a count, a stream position, a timeout). */
export function countField(f: Fields, key: string): number {
  const value = integerField(f, key);
  if (value < 0) throw errors.badJson(`${key} must be a non-negative integer`);
  return value;
}

/**
 * The stream position a writer answered as `{ position }`: a stream ID, or null when nothing was
 * written. (Not `positionOf`: that name reads stream tokens in @hs/core.)
 */
export function answeredPosition(answer: JsonValue): number | null {
  const position = isJsonObject(answer) ? answer['position'] : undefined;
  if (position === null) return null;
  if (typeof position !== 'number' || !Number.isSafeInteger(position) || position < 0) {
    throw errors.unknown('The stream writer answered without a valid position');
  }
  return position;
}
