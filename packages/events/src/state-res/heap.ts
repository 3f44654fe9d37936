/** A binary min-heap of integers (node indices) ordered by a caller-supplied comparison. */
export class IntHeap {
  private readonly items: number[] = [];
  private readonly less: (a: number, b: number) => boolean;

  constructor(less: (a: number, b: number) => boolean) {
    this.less = less;
  }

  get size(): number {
    return this.items.length;
  }

  push(x: number): void {
    const h = this.items;
    let i = h.length;
    h.push(x);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p]!;
      if (!this.less(x, parent)) break;
      h[i] = parent;
      i = p;
    }
    h[i] = x;
  }

  /** Removes and returns the smallest item; the heap must not be empty. */
  pop(): number {
    const h = this.items;
    const top = h[0]!;
    const last = h.pop()!;
    const n = h.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && this.less(h[r]!, h[l]!) ? r : l;
        if (!this.less(h[c]!, last)) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}
