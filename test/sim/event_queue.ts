/**
 * The simulator's agenda: events ordered by virtual time, ties broken by insertion order, so a
 * seed always replays the same sequence. A binary heap.
 */
export interface SimEvent {
  readonly time: number;
  readonly seq: number;
  readonly run: () => void;
}

export class EventQueue {
  private heap: SimEvent[] = [];
  private counter = 0;
  now = 0;

  schedule(delayMs: number, run: () => void): void {
    this.push({ time: this.now + Math.max(0, delayMs), seq: this.counter++, run });
  }

  size(): number {
    return this.heap.length;
  }

  /** Runs the next event; returns false when there is none before `until`. */
  runNext(until: number): boolean {
    const top = this.heap[0];
    if (top === undefined || top.time > until) return false;
    this.pop();
    this.now = top.time;
    top.run();
    return true;
  }

  private less(a: SimEvent, b: SimEvent): boolean {
    return a.time < b.time || (a.time === b.time && a.seq < b.seq);
  }

  private push(event: SimEvent): void {
    const heap = this.heap;
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && this.less(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && this.less(heap[r]!, heap[m]!)) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m]!, heap[i]!];
      i = m;
    }
  }
}
