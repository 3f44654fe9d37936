import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CanonicalJsonError,
  canonicalJson,
  canonicalJsonBytes,
  compareCodePoints,
  isCanonicalJsonValue,
  parseCanonicalJson,
  pythonFloatRepr,
} from '../src/canonical-json.ts';

/** appendices.md › Canonical JSON › Examples: input text → expected canonical output. */
const SPEC_EXAMPLES: [string, string][] = [
  ['{}', '{}'],
  ['{\n    "one": 1,\n    "two": "Two"\n}', '{"one":1,"two":"Two"}'],
  ['{\n    "b": "2",\n    "a": "1"\n}', '{"a":"1","b":"2"}'],
  ['{"b":"2","a":"1"}', '{"a":"1","b":"2"}'],
  [
    `{
    "auth": {
        "success": true,
        "mxid": "@john.doe:example.com",
        "profile": {
            "display_name": "John Doe",
            "three_pids": [
                { "medium": "email", "address": "john.doe@example.org" },
                { "medium": "msisdn", "address": "123456789" }
            ]
        }
    }
}`,
    '{"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe","three_pids":[{"address":"john.doe@example.org","medium":"email"},{"address":"123456789","medium":"msisdn"}]},"success":true}}',
  ],
  ['{\n    "a": "日本語"\n}', '{"a":"日本語"}'],
  ['{\n    "本": 2,\n    "日": 1\n}', '{"日":1,"本":2}'],
  ['{\n    "a": "\\u65E5"\n}', '{"a":"日"}'],
  ['{\n    "a": null\n}', '{"a":null}'],
  ['{\n    "a": -0,\n    "b": 1e10\n}', '{"a":0,"b":10000000000}'],
];

test('the spec canonical JSON examples', () => {
  assert.equal(SPEC_EXAMPLES.length, 10);
  for (const [input, expected] of SPEC_EXAMPLES) {
    assert.equal(canonicalJson(JSON.parse(input)), expected, input);
    // Our own lenient parser gives the same values.
    assert.equal(canonicalJson(parseCanonicalJson(input, { strict: false })), expected, input);
  }
});

test('keys sort by code point, not UTF-16 unit (astral vs U+E000–U+FFFF)', () => {
  const obj = { '\u{1F600}': 1, '\uFFFD': 2, '\uE000': 3, a: 4, '\u{10000}': 5, 'a\u{1F600}': 6, 'a\uFFFF': 7 };
  const out = canonicalJson(obj);
  assert.equal(out, '{"a":4,"a\uFFFF":7,"a\u{1F600}":6,"\uE000":3,"\uFFFD":2,"\u{10000}":5,"\u{1F600}":1}');
  // The default JS order would put the astral keys first — make sure we are not doing that.
  assert.notEqual(Object.keys(obj).sort()[1], 'a\uFFFF');
  assert.ok(compareCodePoints('\u{10000}', '\uFFFF') > 0);
  assert.ok(compareCodePoints('\uD7FF', '\u{10000}') < 0);
  assert.ok(compareCodePoints('ab', 'a') > 0);
  assert.equal(compareCodePoints('x', 'x'), 0);
});

test('escapes only what the grammar requires, raw UTF-8 otherwise', () => {
  const s = '"\\\b\f\n\r\t\u0000\u0001\u001f\u007f/é\u2028\u{1F600}';
  assert.equal(
    canonicalJson(s),
    '"\\"\\\\\\b\\f\\n\\r\\t\\u0000\\u0001\\u001f\u007f/é\u2028\u{1F600}"',
  );
  assert.deepEqual([...canonicalJsonBytes('é')], [0x22, 0xc3, 0xa9, 0x22]);
});

test('numbers: integers in ±(2^53−1) only', () => {
  assert.equal(canonicalJson([9007199254740991, -9007199254740991, 0, -0]), '[9007199254740991,-9007199254740991,0,0]');
  for (const bad of [9007199254740992, -9007199254740992, 1.5, NaN, Infinity, -Infinity]) {
    assert.throws(() => canonicalJson({ n: bad }), CanonicalJsonError, String(bad));
  }
  assert.throws(() => canonicalJson(1.5), (e: CanonicalJsonError) => e.code === 'float');
  assert.throws(() => canonicalJson(2 ** 60), (e: CanonicalJsonError) => e.code === 'integer_out_of_range');
  assert.throws(() => canonicalJson(NaN), (e: CanonicalJsonError) => e.code === 'non_finite');
  assert.equal(isCanonicalJsonValue({ a: [1, 'x', null, true] }), true);
  assert.equal(isCanonicalJsonValue({ a: [1.25] }), false);
});

test('lenient numbers follow Python repr (room v1–5 hashes)', () => {
  const cases: [number, string][] = [
    [0.5, '0.5'],
    [-0.5, '-0.5'],
    [123.456, '123.456'],
    [1.5e-7, '1.5e-07'],
    [0.0001, '0.0001'],
    [0.00001, '1e-05'],
    [1234567890123456.5, '1234567890123456.5'],
    [2.5e-300, '2.5e-300'],
    [-1.25e-5, '-1.25e-05'],
  ];
  for (const [n, expected] of cases) assert.equal(pythonFloatRepr(n), expected, String(n));
  assert.equal(pythonFloatRepr(1e16), '1e+16');
  assert.equal(pythonFloatRepr(12345.0), '12345.0');
  // Unsafe integers print as a JS sender would have sent them (what Synapse then stores).
  assert.equal(canonicalJson({ a: 2 ** 60, b: 0.5 }, { lenientNumbers: true }), '{"a":1152921504606847000,"b":0.5}');
  assert.equal(canonicalJson([2 ** 64, -(2 ** 70), 1e21], { lenientNumbers: true }), '[18446744073709552000,-1.1805916207174113e+21,1e+21]');
  assert.equal(canonicalJson(2n ** 64n, { lenientNumbers: true }), '18446744073709551616');
  assert.throws(() => canonicalJson(2n ** 64n), CanonicalJsonError);
  assert.throws(() => canonicalJson(NaN, { lenientNumbers: true }), CanonicalJsonError);
});

test('rejects lone surrogates, non-plain objects and undefined in arrays', () => {
  assert.throws(() => canonicalJson('\uD800'), (e: CanonicalJsonError) => e.code === 'lone_surrogate');
  assert.throws(() => canonicalJson({ ['\uDC00']: 1 }), (e: CanonicalJsonError) => e.code === 'lone_surrogate');
  assert.throws(() => canonicalJson(new Date(0)), (e: CanonicalJsonError) => e.code === 'unsupported_type');
  assert.throws(() => canonicalJson(new Map()), CanonicalJsonError);
  assert.throws(() => canonicalJson([undefined]), CanonicalJsonError);
  assert.throws(() => canonicalJson(() => 1), CanonicalJsonError);
  assert.equal(canonicalJson({ a: undefined, b: 1 }), '{"b":1}');
  assert.equal(canonicalJson(Object.assign(Object.create(null), { z: 1, y: 2 })), '{"y":2,"z":1}');
  assert.equal(canonicalJson(3n), '3');
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.throws(() => canonicalJson(cyclic), (e: CanonicalJsonError) => e.code === 'too_deep');
});

test('an own __proto__ key is data, both ways', () => {
  const parsed = parseCanonicalJson('{"__proto__":{"polluted":1},"a":1}', { strict: true }) as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(parsed), Object.prototype);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.ok(Object.hasOwn(parsed, '__proto__'));
  assert.equal(canonicalJson(parsed), '{"__proto__":{"polluted":1},"a":1}');
});

test('strict parser: integers in range, no floats or exponents, no duplicate keys', () => {
  const strict = { strict: true } as const;
  assert.deepEqual(parseCanonicalJson(' {"a" : [1, -2, 9007199254740991, "x\\u00e9\\n"], "b": {}} ', strict), {
    a: [1, -2, 9007199254740991, 'xé\n'],
    b: {},
  });
  const rejects: [string, string][] = [
    ['{"a":1.0}', 'float'],
    ['{"a":1e10}', 'float'],
    ['{"a":1E+2}', 'float'],
    ['{"a":9007199254740992}', 'integer_out_of_range'],
    ['{"a":-9007199254740992}', 'integer_out_of_range'],
    ['{"a":1,"a":2}', 'duplicate_key'],
    ['{"a":"\\ud800"}', 'lone_surrogate'],
    ['{"a":NaN}', 'syntax'],
    ['{"a":01}', 'syntax'],
    ['{"a":1,}', 'syntax'],
    ['[1 2]', 'syntax'],
    ['"\u0001"', 'syntax'],
    ['"\\x"', 'syntax'],
    ['{"a":1} x', 'syntax'],
    ['', 'syntax'],
    ['-', 'syntax'],
    ['1.', 'syntax'],
    ['tru', 'syntax'],
    ['{"a"', 'syntax'],
    ['"abc', 'syntax'],
  ];
  for (const [text, code] of rejects) {
    assert.throws(
      () => parseCanonicalJson(text, strict),
      (e: unknown) => e instanceof CanonicalJsonError && e.code === code,
      `${text} should fail with ${code}`,
    );
  }
  assert.equal(parseCanonicalJson('-0', strict), 0);
  assert.ok(Object.is(parseCanonicalJson('-0', strict), 0));
});

test('non-strict parser tolerates room v1–5 numbers and duplicate keys (last wins)', () => {
  const lax = { strict: false } as const;
  assert.deepEqual(parseCanonicalJson('{"a":1.5,"b":1e3,"c":18446744073709551616,"d":1,"d":2}', lax), {
    a: 1.5,
    b: 1000,
    c: 18446744073709551616,
    d: 2,
  });
  assert.throws(() => parseCanonicalJson('1e400', lax), (e: CanonicalJsonError) => e.code === 'non_finite');
  assert.throws(() => parseCanonicalJson('{"a":"\\udc00"}', lax), CanonicalJsonError);
});

test('parser: bytes input, invalid UTF-8, depth limit', () => {
  assert.deepEqual(parseCanonicalJson(new TextEncoder().encode('{"é":"\u{1F600}"}'), { strict: true }), {
    é: '\u{1F600}',
  });
  assert.throws(
    () => parseCanonicalJson(new Uint8Array([0x22, 0xff, 0x22]), { strict: true }),
    (e: CanonicalJsonError) => e.code === 'invalid_utf8',
  );
  const deep = '['.repeat(2000) + ']'.repeat(2000);
  assert.throws(() => parseCanonicalJson(deep, { strict: true }), (e: CanonicalJsonError) => e.code === 'too_deep');
  const ok = '['.repeat(50) + ']'.repeat(50);
  assert.doesNotThrow(() => parseCanonicalJson(ok, { strict: true, maxDepth: 50 }));
});

test('parser round-trips what JSON.parse accepts and never throws anything but CanonicalJsonError', () => {
  let seed = 42;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const alphabet = '{}[]",:0123456789-.eEtrufalsn \\u"ab\u00e9\u{1F600}';
  const chars = [...alphabet];
  for (let i = 0; i < 3000; i++) {
    const len = Math.floor(rand() * 24);
    let text = '';
    for (let j = 0; j < len; j++) text += chars[Math.floor(rand() * chars.length)];
    let expected: unknown;
    let jsonOk = true;
    try {
      expected = JSON.parse(text);
    } catch {
      jsonOk = false;
    }
    try {
      const got = parseCanonicalJson(text, { strict: false });
      assert.ok(jsonOk, `accepted invalid JSON ${JSON.stringify(text)}`);
      assert.deepEqual(got, expected);
    } catch (e) {
      if (!(e instanceof CanonicalJsonError)) throw e;
      // The only JSON we refuse in lax mode: lone surrogates and overflowing numbers.
      if (jsonOk) assert.ok(['lone_surrogate', 'non_finite'].includes(e.code), `${e.code} for ${text}`);
    }
  }
});
