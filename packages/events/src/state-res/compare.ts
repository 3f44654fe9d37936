/**
 * Orders strings by Unicode code point, as the spec (and Python/Rust implementations) do.
 * JavaScript's `<` compares UTF-16 code units, which puts U+E000–U+FFFF after astral
 * characters; remapping the first differing unit fixes that without allocating.
 */
export function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return rank(x) - rank(y);
  }
  return a.length - b.length;
}

// Surrogates (D800–DFFF) stand for code points above FFFF, so they must rank after E000–FFFF.
function rank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit >= 0xe000 ? unit - 0x800 : unit + 0x2000;
}
