import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compileGlob, compileWordLiteral, globMatcher } from '../src/glob.ts';
import { lookupProperty, parsePropertyPath, propertyGetter } from '../src/property-path.ts';

const whole = (p: string, v: string) => compileGlob(p, 'whole').test(v);
const word = (p: string, v: string) => compileGlob(p, 'word').test(v);

test('whole-value globs: the spec examples', () => {
  // appendix example: `lunc?*` against topics
  assert.equal(whole('lunc?*', 'Lunch plans'), true);
  assert.equal(whole('lunc?*', 'LUNCH'), true);
  assert.equal(whole('lunc?*', ' lunch'), false);
  assert.equal(whole('lunc?*', 'lunc'), false);
});

test('whole-value globs: literals, ? and * edge cases', () => {
  assert.equal(whole('m.room.message', 'm.room.message'), true);
  assert.equal(whole('m.room.message', 'M.ROOM.MESSAGE'), true);
  assert.equal(whole('m.room.message', 'm.room.messages'), false);
  assert.equal(whole('m.room.message', 'm_room_message'), false, '. is literal, not a regex wildcard');
  assert.equal(whole('', ''), true);
  assert.equal(whole('', 'x'), false);
  assert.equal(whole('*', ''), true);
  assert.equal(whole('*', 'anything\nat all'), true, '* crosses newlines');
  assert.equal(whole('?', ''), false);
  assert.equal(whole('?', '😀'), true, '? is one code point, not one UTF-16 unit');
  assert.equal(whole('??', '😀'), false);
  assert.equal(whole('a*b*c', 'abc'), true);
  assert.equal(whole('a*b*c', 'aXXbYYc'), true);
  assert.equal(whole('a*b*c', 'aXXcYYb'), false);
  assert.equal(whole('a**b', 'ab'), true);
  assert.equal(whole('*b', 'abab'), true);
  assert.equal(whole('a*', 'ba'), false);
  assert.equal(whole('(x)+[y]', '(X)+[Y]'), true, 'regex metacharacters are literal');
  assert.equal(whole('\\d', '\\d'), true);
  assert.equal(whole('\\d', '5'), false);
});

test('whole-value globs: unicode case-insensitivity', () => {
  assert.equal(whole('ÉCOLE', 'école'), true);
  assert.equal(whole('straße', 'STRASSE'), false, 'simple case folding only');
  assert.equal(whole('kelvin', '\u212Aelvin'), true, 'non-ASCII in the value that folds onto ASCII');
  assert.equal(whole('ΣΟΦΙΑ*', 'σοφια!'), true);
});

test('word-mode globs: the spec examples', () => {
  assert.equal(word('ex*ple', 'An example event.'), true);
  assert.equal(word('ex*ple', 'exple'), true);
  assert.equal(word('ex*ple', 'An exciting triple-whammy'), true);
});

test('word-mode globs: boundaries', () => {
  assert.equal(word('cake', 'I like cake'), true);
  assert.equal(word('cake', 'I like CAKE!'), true);
  assert.equal(word('cake', 'cupcake'), false);
  assert.equal(word('cake', 'cakes'), false);
  assert.equal(word('cake', 'cake_shop'), false, '_ is a word character');
  assert.equal(word('cake', 'cake2'), false, 'digits are word characters');
  assert.equal(word('cake', 'cake-shop'), true);
  assert.equal(word('cake', 'x\ncake\n'), true);
  assert.equal(word('cake', 'cupcake cake'), true, 'a later occurrence can match');
  assert.equal(word('@room', 'hello @room!'), true);
  assert.equal(word('@room', 'x@room'), true, 'a pattern starting with a separator needs no separator before it');
  assert.equal(word('@room', '@roomy'), false);
  assert.equal(word('c?ke', 'my coke'), true);
  assert.equal(word('c?ke', 'my cke'), false);
  assert.equal(word('cake*lie', 'the cake is a lie'), true);
  assert.equal(word('cake*lie', 'the cake is a lier'), false);
  assert.equal(word('cake*lie', 'the cake is a lie or a lier'), true);
  assert.equal(word('cake*lie', 'pancake is a lie'), false);
  assert.equal(word('*cake', 'pancake'), true, 'a leading * may start mid-word');
  assert.equal(word('cake*', 'cakes'), true);
  assert.equal(word('', 'anything'), true);
});

test('word-mode globs: only ASCII letters, digits and _ are word characters', () => {
  assert.equal(word('caf', 'café'), true, 'é separates words under the spec definition');
  assert.equal(word('café', 'un café noir'), true);
  assert.equal(word('CAFÉ', 'un café noir'), true);
  assert.equal(word('zoë', 'zoëlla'), true, 'ë is not a word character');
  assert.equal(word('alice', 'éalice'), true, 'a non-ASCII letter before the match is a boundary');
  assert.equal(word('lice', 'a\u030Alice'), true, 'even a combining mark separates words under the spec definition');
  assert.equal(word('k', '\u212A'), true, 'the Kelvin sign folds to k');
  assert.equal(word('ab', 'x\u212Aab'), true, 'but is not a word character itself');
  assert.equal(word('mañana', 'hasta MAÑANA'), true);
  assert.equal(word('😀', 'ok😀ok'), true);
});

test('long adversarial inputs stay fast (no catastrophic backtracking)', () => {
  const body = 'a'.repeat(60_000);
  const started = performance.now();
  assert.equal(word('*a*a*a*a*a*a*b', body), false);
  assert.equal(whole('*a*a*a*a*a*a*b', body), false);
  assert.equal(word('a*b', body), false);
  assert.equal(word('a?a?a?a?b', body), false);
  assert.ok(performance.now() - started < 2000, 'linear-ish matching');
});

test('word literals treat * and ? literally (display names)', () => {
  assert.equal(compileWordLiteral('Al*ce').test('hi Al*ce!'), true);
  assert.equal(compileWordLiteral('Al*ce').test('hi Alice'), false);
  assert.equal(compileWordLiteral('Bob?').test('is that Bob?'), true);
  assert.equal(compileWordLiteral('Bob?').test('Bobs'), false);
  assert.equal(compileWordLiteral('Alice').test('malice'), false);
});

test('globMatcher caches compiled matchers per pattern and mode', () => {
  assert.equal(globMatcher('x*y', 'word'), globMatcher('x*y', 'word'));
  assert.notEqual(globMatcher('x*y', 'word'), globMatcher('x*y', 'whole'));
});

test('dot-separated paths with escapes', () => {
  assert.deepEqual(parsePropertyPath('content.body'), ['content', 'body']);
  assert.deepEqual(parsePropertyPath('content.m\\.relates_to.rel_type'), ['content', 'm.relates_to', 'rel_type']);
  assert.deepEqual(parsePropertyPath('content.m\\\\foo'), ['content', 'm\\foo']);
  assert.deepEqual(parsePropertyPath('content.m\\\\.foo'), ['content', 'm\\', 'foo']);
  assert.deepEqual(parsePropertyPath('a\\xb'), ['a\\xb'], 'other escapes stay as written');
  assert.deepEqual(parsePropertyPath('trailing\\'), ['trailing\\']);
  assert.deepEqual(parsePropertyPath('type'), ['type']);
  const ev = { content: { 'm.relates_to': { rel_type: 'm.replace' }, list: [1], n: null }, type: 't' };
  assert.equal(lookupProperty(ev, parsePropertyPath('content.m\\.relates_to.rel_type')), 'm.replace');
  assert.equal(lookupProperty(ev, parsePropertyPath('content.m.relates_to.rel_type')), undefined);
  assert.equal(lookupProperty(ev, ['content', 'list', '0']), undefined, 'arrays are not traversed');
  assert.equal(lookupProperty(ev, ['content', 'n']), null);
  assert.equal(lookupProperty(ev, ['content', 'constructor']), undefined, 'inherited properties are not event properties');
  assert.equal(lookupProperty(ev, ['content', '__proto__']), undefined);
});

test('propertyGetter (the evaluator\'s unrolled lookups) agrees with lookupProperty', () => {
  const ev = JSON.parse('{"a":{"b":{"c":{"d":"deep"},"arr":[1]},"s":"x","__proto__":"own"},"t":"top"}') as unknown;
  const paths = [['t'], ['a', 's'], ['a', 'b', 'c'], ['a', 'b', 'c', 'd'], ['a', 'b', 'c', 'd', 'e'], ['a', 'b', 'arr', '0'], ['missing'], ['a', 'constructor'], ['a', '__proto__'], ['a', 'toString'], ['t', 'length'], ['a', 'b', 'arr', 'length']];
  for (const p of paths) assert.deepEqual(propertyGetter(p)(ev), lookupProperty(ev, p), p.join('.'));
  assert.equal(propertyGetter(['a', '__proto__'])(ev), 'own', 'an own property named __proto__ is found');
  assert.equal(propertyGetter(['x'])(null), undefined);
  assert.equal(propertyGetter(['0'])([5]), undefined);
});

// ---- properties against a slow, obviously-correct reference ----------------------------------


/** Whole-value glob match by dynamic programming over ASCII (case folded with toLowerCase). */
function refWhole(pattern: string, value: string): boolean {
  const p = pattern.toLowerCase();
  const v = value.toLowerCase();
  // ok[i][j]: p[0..i) matches v[0..j)
  const ok: boolean[][] = Array.from({ length: p.length + 1 }, () => new Array<boolean>(v.length + 1).fill(false));
  (ok[0] as boolean[])[0] = true;
  for (let i = 1; i <= p.length; i++) {
    const c = p[i - 1];
    for (let j = 0; j <= v.length; j++) {
      const row = ok[i] as boolean[];
      const prev = ok[i - 1] as boolean[];
      if (c === '*') row[j] = (prev[j] as boolean) || (j > 0 && (row[j - 1] as boolean));
      else row[j] = j > 0 && (prev[j - 1] as boolean) && (c === '?' || c === v[j - 1]);
    }
  }
  return (ok[p.length] as boolean[])[v.length] as boolean;
}

/** Word-mode: some substring between two boundary positions matches as a whole. */
function refWord(pattern: string, value: string): boolean {
  const isWord = (ch: string | undefined) => ch !== undefined && /[A-Za-z0-9_]/.test(ch);
  const boundary = (i: number) => !(isWord(value[i - 1]) && isWord(value[i]));
  for (let s = 0; s <= value.length; s++) {
    if (!boundary(s)) continue;
    for (let e = s; e <= value.length; e++) if (boundary(e) && refWhole(pattern, value.slice(s, e))) return true;
  }
  return false;
}

const patternArb = fc.string({ unit: fc.constantFrom('a', 'b', 'A', '_', '-', ' ', '*', '?'), maxLength: 7 });
const valueArb = fc.string({ unit: fc.constantFrom('a', 'b', 'B', '_', '-', ' ', '1'), maxLength: 10 });

test('property: whole-mode matching agrees with a reference matcher (ASCII)', () => {
  fc.assert(fc.property(patternArb, valueArb, (p, v) => compileGlob(p, 'whole').test(v) === refWhole(p, v)), { numRuns: 3000 });
});

test('property: word-mode matching agrees with a reference matcher (ASCII)', () => {
  fc.assert(fc.property(patternArb, valueArb, (p, v) => compileGlob(p, 'word').test(v) === refWord(p, v)), { numRuns: 3000 });
});

test('property: any pattern and value, however odd, compile and match without throwing', () => {
  const odd = fc.string({ unit: 'binary', maxLength: 12 });
  fc.assert(
    fc.property(odd, odd, (p, v) => {
      for (const mode of ['whole', 'word'] as const) {
        assert.equal(typeof compileGlob(p, mode).test(v), 'boolean');
        assert.equal(compileGlob(p.replace(/[*?]/g, ''), mode).test(p.replace(/[*?]/g, '')), true, 'a literal matches itself');
      }
      assert.equal(typeof compileWordLiteral(p).test(v), 'boolean');
    }),
    { numRuns: 2000 },
  );
  for (const lone of ['\ud800', 'a\udfffb', '\\', '[', '(?', '\u0000']) {
    assert.equal(compileGlob(lone, 'whole').test(lone), true, JSON.stringify(lone));
    assert.equal(compileGlob(lone, 'word').test(`x ${lone} y`), true, JSON.stringify(lone));
  }
});
