import { compareCodePoints } from './compare.ts';
import type { EventGraph } from './event-graph.ts';

/** The power levels event among a node's auth events, or -1. */
function powerLevelsParent(g: EventGraph, n: number): number {
  for (const a of g.authOf(n)) {
    const ev = g.event(a);
    if (ev !== undefined && ev.type === 'm.room.power_levels' && ev.state_key === '') return a;
  }
  return -1;
}

/**
 * Step 3 of v2 resolution: the mainline ordering based on the resolved power levels event P.
 * An event's mainline position is the index in P's mainline (P = 0, its predecessor 1, …) of
 * the first power levels event met walking back from the event's own power levels auth event,
 * or ∞. Sort: greater position first, then earlier origin_server_ts, then smaller event ID.
 * Walks are memoised, since most events share their power levels ancestry.
 */
export function mainlineOrder(g: EventGraph, events: readonly number[], resolvedPowerLevels: number | undefined): number[] {
  const mainline = new Map<number, number>();
  for (let p = resolvedPowerLevels ?? -1, i = 0; p >= 0 && !mainline.has(p); p = powerLevelsParent(g, p)) {
    mainline.set(p, i++);
  }

  const memo = new Map<number, number>();
  const positionFrom = (start: number): number => {
    const path: number[] = [];
    let result = Infinity;
    for (let p = start; p >= 0; p = powerLevelsParent(g, p)) {
      const onMainline = mainline.get(p);
      if (onMainline !== undefined) {
        result = onMainline;
        break;
      }
      const known = memo.get(p);
      if (known !== undefined) {
        result = known;
        break;
      }
      memo.set(p, Infinity); // provisional: stops a (malformed) cycle
      path.push(p);
    }
    for (const p of path) memo.set(p, result);
    return result;
  };

  const keyed = events.map((n) => {
    const parent = powerLevelsParent(g, n);
    const ev = g.event(n)!;
    return { n, pos: parent < 0 ? Infinity : positionFrom(parent), ts: ev.origin_server_ts, id: g.ids[n]! };
  });
  keyed.sort((a, b) => {
    if (a.pos !== b.pos) return a.pos > b.pos ? -1 : 1;
    if (a.ts !== b.ts) return a.ts < b.ts ? -1 : 1;
    return compareCodePoints(a.id, b.id);
  });
  return keyed.map((k) => k.n);
}
