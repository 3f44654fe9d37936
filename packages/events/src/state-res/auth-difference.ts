import type { EventGraph } from './event-graph.ts';

/**
 * The auth difference: events in the full auth chain of some, but not all, state sets.
 *
 * A state set's full auth chain here includes its own events, as Synapse's chain cover index
 * computes it (the events themselves are in the conflicted set or in every chain anyway).
 * Everything reachable from the unconflicted state is in every chain, so one pass marks that
 * common part and the per-set passes only walk what the conflicted entries add.
 *
 * @param unconflicted nodes of the unconflicted state map
 * @param perSet for each state set, the nodes of its entries at conflicted keys
 */
export function authDifference(
  g: EventGraph,
  unconflicted: readonly number[],
  perSet: readonly (readonly number[])[],
): number[] {
  g.expandFrom(unconflicted);
  for (const roots of perSet) g.expandFrom(roots);
  const size = g.size;

  const common = new Uint8Array(size);
  const stack: number[] = [...unconflicted];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (common[n] === 1) continue;
    common[n] = 1;
    for (const a of g.authOf(n)) if (common[a] !== 1) stack.push(a);
  }

  const k = perSet.length;
  const count = new Uint32Array(size);
  const stamp = new Int32Array(size).fill(-1);
  const touched: number[] = [];
  for (let i = 0; i < k; i++) {
    stack.push(...perSet[i]!);
    while (stack.length > 0) {
      const n = stack.pop()!;
      if (common[n] === 1 || stamp[n] === i) continue;
      stamp[n] = i;
      if (count[n] === 0) touched.push(n);
      count[n] = count[n]! + 1;
      for (const a of g.authOf(n)) if (common[a] !== 1 && stamp[a] !== i) stack.push(a);
    }
  }
  return touched.filter((n) => count[n]! < k);
}

/**
 * Room v12's conflicted state subgraph: every event on an auth path between two events of
 * the conflicted state set, endpoints included. Those are the events reachable from a
 * conflicted event that can themselves reach a conflicted event, found with one post-order
 * walk over the conflicted events' auth chains.
 */
export function conflictedSubgraph(g: EventGraph, conflicted: readonly number[]): number[] {
  g.expandFrom(conflicted);
  const size = g.size;
  const isConflicted = new Uint8Array(size);
  for (const n of conflicted) isConflicted[n] = 1;
  // 0 = unseen, 1 = children pending, 2 = done
  const state = new Uint8Array(size);
  const reaches = new Uint8Array(size);
  const out: number[] = [];
  const stack: number[] = [];
  for (const root of conflicted) {
    if (state[root] !== 0) continue;
    stack.push(root);
    while (stack.length > 0) {
      const n = stack[stack.length - 1]!;
      if (state[n] === 0) {
        state[n] = 1;
        for (const a of g.authOf(n)) if (state[a] === 0) stack.push(a);
        continue;
      }
      stack.pop();
      if (state[n] === 2) continue;
      state[n] = 2;
      let r = isConflicted[n] === 1;
      if (!r) for (const a of g.authOf(n)) if (reaches[a] === 1) { r = true; break; }
      if (r) {
        reaches[n] = 1;
        out.push(n);
      }
    }
  }
  return out;
}
