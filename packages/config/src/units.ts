/** Synapse's size and duration notations ("50M", "1d"), shared by several keys. */

const SIZE_UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };
const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  y: 31_536_000_000,
};

/** Bytes from an integer or a string such as "50M" (K = KiB, M = MiB, G = GiB, as in Synapse). */
export function parseSize(value: number | string): number {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`not a size: ${value}`);
    return value;
  }
  const m = /^([0-9]+)([KMG]?)$/.exec(value);
  if (!m) throw new RangeError(`not a size: ${JSON.stringify(value)}`);
  const n = Number(m[1]) * (SIZE_UNITS[m[2] ?? ''] ?? 1);
  if (!Number.isSafeInteger(n)) throw new RangeError(`size too large: ${JSON.stringify(value)}`);
  return n;
}

/** Milliseconds from an integer (already milliseconds) or a string such as "1d" or "30s". */
export function parseDuration(value: number | string): number {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`not a duration: ${value}`);
    return value;
  }
  const m = /^([0-9]+)(ms|s|m|h|d|w|y)?$/.exec(value);
  if (!m) throw new RangeError(`not a duration: ${JSON.stringify(value)}`);
  const n = Number(m[1]) * (DURATION_UNITS[m[2] ?? 'ms'] ?? 1);
  if (!Number.isSafeInteger(n)) throw new RangeError(`duration too large: ${JSON.stringify(value)}`);
  return n;
}
