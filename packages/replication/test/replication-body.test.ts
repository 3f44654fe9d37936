import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MatrixError, type JsonValue } from '@hs/core';
import {
  answeredPosition,
  bodyFields,
  countField,
  eventIdField,
  integerField,
  nonEmptyTextField,
  nullableField,
  optionalField,
  roomIdField,
  textArrayField,
  textField,
  userIdField,
} from '../src/index.ts';

function badJson(fn: () => unknown): void {
  assert.throws(fn, (e: unknown) => e instanceof MatrixError && e.httpStatus === 400 && e.errcode === 'M_BAD_JSON');
}

test('bodyFields accepts only a JSON object', () => {
  assert.deepEqual(bodyFields({ a: 1 }), { a: 1 });
  for (const body of [undefined, null, [], 'x', 3]) badJson(() => bodyFields(body));
});

test('textField accepts the empty string, nonEmptyTextField does not; neither takes NUL or lone surrogates', () => {
  assert.equal(textField({ k: '' }, 'k'), '');
  badJson(() => nonEmptyTextField({ k: '' }, 'k'));
  assert.equal(nonEmptyTextField({ k: 'x' }, 'k'), 'x');
  for (const read of [textField, nonEmptyTextField]) {
    for (const bad of ['a\u0000b', '\ud800', 1, null, undefined]) badJson(() => read({ k: bad }, 'k'));
  }
  assert.deepEqual(textArrayField({ k: ['a', ''] }, 'k'), ['a', '']);
  badJson(() => textArrayField({ k: ['a', 1] }, 'k'));
});

test('optionalField: absent is undefined; nullableField: null is null, absent is up to the reader', () => {
  assert.equal(optionalField({}, 'k', nonEmptyTextField), undefined);
  assert.equal(optionalField({ k: 'x' }, 'k', nonEmptyTextField), 'x');
  badJson(() => optionalField({ k: '' }, 'k', nonEmptyTextField));
  badJson(() => optionalField({ k: null }, 'k', textField));
  assert.equal(nullableField({ k: null }, 'k', countField), null);
  assert.equal(nullableField({ k: 7 }, 'k', countField), 7);
  badJson(() => nullableField({}, 'k', countField));
});

test('integers: integerField takes negatives, countField does not; neither takes fractions', () => {
  assert.equal(integerField({ k: -3 }, 'k'), -3);
  badJson(() => countField({ k: -3 }, 'k'));
  assert.equal(countField({ k: 0 }, 'k'), 0);
  for (const read of [integerField, countField]) for (const bad of [1.5, '1', 2 ** 53]) badJson(() => read({ k: bad }, 'k'));
});

test('identifier fields check the sigil', () => {
  assert.equal(userIdField({ k: '@a:hs' }, 'k'), '@a:hs');
  assert.equal(roomIdField({ k: '!r:hs' }, 'k'), '!r:hs');
  assert.equal(eventIdField({ k: '$e' }, 'k'), '$e');
  badJson(() => userIdField({ k: '!r:hs' }, 'k'));
  badJson(() => roomIdField({ k: '@a:hs' }, 'k'));
  badJson(() => eventIdField({ k: '' }, 'k'));
});

test('answeredPosition reads a non-negative position or null, and anything else is a 500', () => {
  assert.equal(answeredPosition({ position: 4 }), 4);
  assert.equal(answeredPosition({ position: null }), null);
  const bads: JsonValue[] = [{}, { position: -1 }, { position: 1.5 }, { position: '4' }, null, [4]];
  for (const bad of bads) {
    assert.throws(() => answeredPosition(bad), (e: unknown) => e instanceof MatrixError && e.httpStatus === 500);
  }
});
