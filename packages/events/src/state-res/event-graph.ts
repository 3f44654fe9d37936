import type { EventView } from '../types.ts';

/** Fetches an event by ID; undefined when it is not available. */
export type EventLookup = (eventId: string) => EventView | undefined;

const CREATE = 'm.room.create';

/**
 * The events one resolution touches, numbered densely (0, 1, 2, …) so the algorithms can use
 * typed arrays and integer heaps instead of string-keyed maps. Each event is fetched once,
 * when first referenced; its auth edges are resolved on first use.
 *
 * Events the lookup cannot supply stay in the graph as nodes without an event and without
 * auth edges, so they can still be counted in auth chains but are never applied.
 */
export class EventGraph {
  readonly ids: string[] = [];
  private readonly events: (EventView | undefined)[] = [];
  private readonly auth: (readonly number[] | undefined)[] = [];
  private readonly index = new Map<string, number>();
  private readonly lookup: EventLookup;
  private readonly implicitCreate: boolean;

  /**
   * @param implicitCreate room v12: the create event is never listed in `auth_events` but
   *   authorises every event (its ID is the room ID with `$` for `!`), so it is added as an
   *   auth edge, as Synapse does, to keep auth chains comparable across versions.
   */
  constructor(lookup: EventLookup, implicitCreate: boolean) {
    this.lookup = lookup;
    this.implicitCreate = implicitCreate;
  }

  get size(): number {
    return this.ids.length;
  }

  /** The node of an event ID, creating it (and fetching the event) on first reference. */
  node(id: string): number {
    let n = this.index.get(id);
    if (n === undefined) {
      n = this.ids.length;
      this.index.set(id, n);
      this.ids.push(id);
      this.events.push(this.lookup(id));
      this.auth.push(undefined);
    }
    return n;
  }

  event(n: number): EventView | undefined {
    return this.events[n];
  }

  /** The distinct auth events of a node, as nodes; empty for a missing event. */
  authOf(n: number): readonly number[] {
    const known = this.auth[n];
    if (known !== undefined) return known;
    const ev = this.events[n];
    const out: number[] = [];
    if (ev !== undefined) {
      for (const id of ev.auth_events) {
        const a = this.node(id);
        if (a !== n && !out.includes(a)) out.push(a);
      }
      if (this.implicitCreate && !(ev.type === CREATE && ev.state_key === '') && ev.room_id.startsWith('!')) {
        const a = this.node(`$${ev.room_id.slice(1)}`);
        if (a !== n && !out.includes(a)) out.push(a);
      }
    }
    this.auth[n] = out;
    return out;
  }

  /** Resolves auth edges for everything reachable from `roots`, so `size` covers that closure. */
  expandFrom(roots: Iterable<number>): void {
    const stack = [...roots];
    while (stack.length > 0) {
      const n = stack.pop()!;
      if (this.auth[n] !== undefined) continue;
      for (const a of this.authOf(n)) if (this.auth[a] === undefined) stack.push(a);
    }
  }

  /** IDs of referenced events the lookup could not supply, sorted. */
  missing(): string[] {
    const out: string[] = [];
    for (let n = 0; n < this.ids.length; n++) if (this.events[n] === undefined) out.push(this.ids[n]!);
    return out.sort();
  }
}
