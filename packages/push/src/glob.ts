/**
 * Glob matching for push rules (appendices › Glob-style matching: `*` is any run of characters, `?`
 * exactly one), case-insensitively, in two modes:
 *   - `whole`: the pattern must match the entire value (every key but `content.body`);
 *   - `word`: it must match some substring that starts and ends at a word boundary (`content.body`
 *     and content rules). The spec's word characters are only `[A-Za-z0-9_]`, so e.g. `é` or `-`
 *     separate words. A position is a boundary unless it sits between two word characters.
 *
 * "Case-insensitive" is Unicode simple case folding (the `iu` regex flags); `?` is one code point.
 *
 * Patterns come from users, so matching must stay linear: a backtracking regex for `a*a*a*b` can take
 * polynomial time on a long body. A pattern is therefore split at its stars into star-free segments,
 * each compiled to a small regex (literals and `.` only, so at most O(segment) work per position),
 * and the segments are placed greedily left to right — the leftmost placement of each segment
 * leaves the most room for the rest, so greedy finds a match whenever one exists.
 *
 * Compiled matchers are cached by (mode, pattern); the regexes are reused with explicit `lastIndex`.
 */

export type GlobMode = 'whole' | 'word';

export interface GlobMatcher {
  test(value: string): boolean;
}

/** The spec's word characters, exempt from case folding (under `iu`, `[a-z]` would also match K and ſ). */
const WORD = '(?-i:[A-Za-z0-9_])';
/** Not strictly inside a word: no word character on at least one side. */
const BOUNDARY = `(?:(?<!${WORD})|(?!${WORD}))`;

function escapeLiteral(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}

/** A star-free glob segment as regex source: `?` is any one code point, everything else literal. */
function segmentSource(segment: string): string {
  let out = '';
  for (const ch of segment) out += ch === '?' ? '.' : escapeLiteral(ch);
  return out;
}

const FLAGS = 'isu';

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** A whole-value literal with only ASCII: compared without a regex or a lowercased copy. */
class AsciiLiteralMatcher implements GlobMatcher {
  private readonly lower: string;
  private readonly exact: string;
  private readonly fallback: RegExp;

  constructor(pattern: string) {
    this.exact = pattern;
    this.lower = pattern.toLowerCase();
    this.fallback = new RegExp(`^${escapeLiteral(pattern)}$`, FLAGS);
  }

  test(value: string): boolean {
    if (value === this.exact) return true;
    const lower = this.lower;
    if (value.length !== lower.length) return false;
    for (let i = 0; i < lower.length; i++) {
      let c = value.charCodeAt(i);
      const p = lower.charCodeAt(i);
      if (c === p) continue;
      // Non-ASCII in the value may still fold onto ASCII (K, ſ): let the regex decide.
      if (c > 0x7f) return this.fallback.test(value);
      if (c >= 0x41 && c <= 0x5a) c += 0x20;
      if (c !== p) return false;
    }
    return true;
  }
}

/** No stars: one regex, anchored (whole) or bounded (word). */
class SingleSegmentMatcher implements GlobMatcher {
  private readonly re: RegExp;
  constructor(source: string) {
    this.re = new RegExp(source, FLAGS);
  }
  test(value: string): boolean {
    return this.re.test(value);
  }
}

/**
 * Stars present: `first` must match at the start (whole) or at a boundary (word); each middle
 * segment is placed at its leftmost occurrence; `last` must end at the end (whole) or at a boundary.
 */
class StarMatcher implements GlobMatcher {
  private readonly first: RegExp;
  private readonly middle: readonly RegExp[];
  private readonly last: RegExp;

  constructor(segments: readonly string[], mode: GlobMode) {
    const sources = segments.map(segmentSource);
    const firstSource = sources[0] as string;
    const lastSource = sources[sources.length - 1] as string;
    this.first = mode === 'whole' ? new RegExp(firstSource, FLAGS + 'y') : new RegExp(BOUNDARY + firstSource, FLAGS + 'g');
    this.middle = sources.slice(1, -1).map((s) => new RegExp(s, FLAGS + 'g'));
    this.last = new RegExp(lastSource + (mode === 'whole' ? '$' : BOUNDARY), FLAGS + 'g');
  }

  test(value: string): boolean {
    const first = this.first;
    first.lastIndex = 0;
    if (!first.test(value)) return false;
    let pos = first.lastIndex;
    for (let i = 0; i < this.middle.length; i++) {
      const re = this.middle[i] as RegExp;
      re.lastIndex = pos;
      if (!re.test(value)) return false;
      pos = re.lastIndex;
    }
    const last = this.last;
    last.lastIndex = pos;
    return last.test(value);
  }
}

function splitAtStars(pattern: string): string[] {
  // Runs of stars mean the same as one star.
  return pattern.split(/\*+/);
}

export function compileGlob(pattern: string, mode: GlobMode): GlobMatcher {
  const segments = splitAtStars(pattern);
  if (segments.length === 1) {
    if (mode === 'whole' && !pattern.includes('?') && isAscii(pattern)) return new AsciiLiteralMatcher(pattern);
    const source = segmentSource(pattern);
    return new SingleSegmentMatcher(mode === 'whole' ? `^${source}$` : `${BOUNDARY}${source}${BOUNDARY}`);
  }
  return new StarMatcher(segments, mode);
}

/** A literal (no wildcards) matched as a word, as `contains_display_name` needs. */
export function compileWordLiteral(text: string): GlobMatcher {
  return new SingleSegmentMatcher(`${BOUNDARY}${escapeLiteral(text)}${BOUNDARY}`);
}

const MAX_CACHED = 20_000;
const globCache = new Map<string, GlobMatcher>();
const literalCache = new Map<string, GlobMatcher>();

function remember(cache: Map<string, GlobMatcher>, key: string, make: () => GlobMatcher): GlobMatcher {
  let m = cache.get(key);
  if (m === undefined) {
    // A crude bound: patterns are few in practice, and a full clear is cheap to recover from.
    if (cache.size >= MAX_CACHED) cache.clear();
    m = make();
    cache.set(key, m);
  }
  return m;
}

/** `compileGlob`, cached by mode and pattern. */
export function globMatcher(pattern: string, mode: GlobMode): GlobMatcher {
  return remember(globCache, (mode === 'word' ? 'w' : 'a') + pattern, () => compileGlob(pattern, mode));
}

/** `compileWordLiteral`, cached by text. */
export function wordLiteralMatcher(text: string): GlobMatcher {
  return remember(literalCache, text, () => compileWordLiteral(text));
}
