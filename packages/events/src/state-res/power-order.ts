import type { EventView } from '../types.ts';
import type { RoomVersion } from '../room-versions.ts';
import { senderPowerLevel } from '../auth-rules.ts';
import type { EventGraph } from './event-graph.ts';
import { ownAuthEvents } from './iterative-auth.ts';
import { IntHeap } from './heap.ts';
import { compareCodePoints } from './compare.ts';

/**
 * Events that may take away someone's ability to act: power levels, join rules, and kicks
 * and bans (a leave or ban whose sender is not its target). The create event counts too,
 * as in Synapse and ruma; it only reaches the conflicted set in damaged rooms.
 */
export function isPowerEvent(ev: EventView): boolean {
  if (ev.state_key === '') {
    if (ev.type === 'm.room.power_levels' || ev.type === 'm.room.join_rules' || ev.type === 'm.room.create') {
      return true;
    }
  }
  if (ev.type === 'm.room.member' && ev.state_key !== undefined) {
    const membership = ev.content['membership'];
    return (membership === 'leave' || membership === 'ban') && ev.sender !== ev.state_key;
  }
  return false;
}

/**
 * Step 1 of v2 resolution: the power events of the full conflicted set plus the parts of their
 * auth chains inside that set, in reverse topological power ordering (Kahn's algorithm, always
 * taking the smallest ready event by: higher sender power level, earlier origin_server_ts,
 * smaller event ID). Edges are the auth edges between members of the full conflicted set,
 * as Synapse and ruma build the graph.
 *
 * @param full the full conflicted set (available events only)
 * @param inFull membership flags of `full`, indexed by node; every auth event of `full` must
 *   already have a node below its length
 */
export function reverseTopologicalPowerOrder(
  rv: RoomVersion,
  g: EventGraph,
  full: readonly number[],
  inFull: Uint8Array,
): number[] {
  const local = new Int32Array(inFull.length).fill(-1);
  const xs: number[] = [];
  const stack: number[] = [];
  for (const n of full) if (isPowerEvent(g.event(n)!)) stack.push(n);
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (local[n] !== -1) continue;
    local[n] = xs.length;
    xs.push(n);
    for (const a of g.authOf(n)) if (inFull[a] === 1 && local[a] === -1) stack.push(a);
  }

  const m = xs.length;
  // outdeg[i]: auth events of xs[i] not yet emitted; parents in CSR form (who cites xs[i]).
  const outdeg = new Int32Array(m);
  const parentStart = new Int32Array(m + 1);
  for (let i = 0; i < m; i++) {
    for (const a of g.authOf(xs[i]!)) {
      const j = local[a]!;
      if (j >= 0) {
        outdeg[i]!++;
        parentStart[j + 1]!++;
      }
    }
  }
  for (let i = 0; i < m; i++) parentStart[i + 1]! += parentStart[i]!;
  const parents = new Int32Array(parentStart[m]!);
  const fill = parentStart.slice(0, m);
  for (let i = 0; i < m; i++) {
    for (const a of g.authOf(xs[i]!)) {
      const j = local[a]!;
      if (j >= 0) parents[fill[j]!++] = i;
    }
  }

  const power = new Float64Array(m);
  const ts = new Float64Array(m);
  const ids: string[] = new Array<string>(m);
  for (let i = 0; i < m; i++) {
    const n = xs[i]!;
    const ev = g.event(n)!;
    power[i] = senderPowerLevel(rv, ev.sender, ownAuthEvents(g, n));
    ts[i] = ev.origin_server_ts;
    ids[i] = g.ids[n]!;
  }
  const heap = new IntHeap((a, b) => {
    if (power[a] !== power[b]) return power[a]! > power[b]!;
    if (ts[a] !== ts[b]) return ts[a]! < ts[b]!;
    return compareCodePoints(ids[a]!, ids[b]!) < 0;
  });
  for (let i = 0; i < m; i++) if (outdeg[i] === 0) heap.push(i);
  const out: number[] = [];
  while (heap.size > 0) {
    const i = heap.pop();
    out.push(xs[i]!);
    for (let p = parentStart[i]!; p < parentStart[i + 1]!; p++) {
      const parent = parents[p]!;
      if (--outdeg[parent]! === 0) heap.push(parent);
    }
  }
  return out;
}
