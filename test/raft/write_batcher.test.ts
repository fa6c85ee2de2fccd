import fc from "fast-check";
import t from "tap";
import { EMPTY_CONF_STATE } from "../../src/raft/membership.js";
import type { Ready } from "../../src/raft/raw_node.js";
import { mergeWrites, WriteBatcher } from "../../src/raft/runtime/write_batcher.js";
import type { Entry, HardState, LogIndex, Snapshot, Term } from "../../src/raft/types.js";

const entry = (index: number, term: number): Entry => ({ index: index as LogIndex, term: term as Term, type: "normal", timeMs: 0, data: new Uint8Array([index]) });
const entries = (from: number, to: number, term: number): Entry[] => Array.from({ length: to - from + 1 }, (_, i) => entry(from + i, term));
const snapshot = (index: number): Snapshot => ({ meta: { index: index as LogIndex, term: 1 as Term, timeMs: 0, confState: EMPTY_CONF_STATE }, data: new Uint8Array() });
const hs = (commit: number): HardState => ({ term: 1 as Term, vote: null, commit: commit as LogIndex });

function ready(fields: Partial<Ready>): Ready {
  return { softState: null, hardState: null, entries: [], snapshot: null, committedEntries: [], messages: [], readStates: [], mustSync: (fields.entries?.length ?? 0) > 0 || fields.snapshot != null, sendBeforePersist: false, ...fields };
}

t.test("merging batches keeps order: later entries replace an overlapping suffix, a snapshot replaces the log", async (t) => {
  const merged = mergeWrites([ready({ entries: entries(5, 10, 1), hardState: hs(4) }), ready({ entries: entries(8, 9, 2) }), ready({ hardState: hs(6) })]);
  t.same(merged?.entries.map((e) => `${e.index}/${e.term}`), ["5/1", "6/1", "7/1", "8/2", "9/2"]);
  t.same(merged?.hardState, hs(6), "the newest hard state wins");
  const withSnapshot = mergeWrites([ready({ entries: entries(5, 6, 1) }), ready({ snapshot: snapshot(20), entries: entries(21, 21, 1) }), ready({ entries: entries(22, 23, 1) })]);
  t.equal(withSnapshot?.snapshot?.meta.index, 20);
  t.same(withSnapshot?.entries.map((e) => e.index), [21, 22, 23]);
  t.equal(mergeWrites([ready({ hardState: hs(3) }), ready({})]), null, "commit-only changes need no durable write");
});

t.test("merged writes leave the same log as writing each batch in turn", async (t) => {
  type Log = Map<number, string>;
  const apply = (log: Log, write: { entries: readonly Entry[]; snapshot: Snapshot | null }): Log => {
    const next = write.snapshot === null ? new Map(log) : new Map<number, string>();
    const first = write.entries[0]?.index;
    if (first !== undefined) for (const index of [...next.keys()]) if (index >= first) next.delete(index);
    for (const e of write.entries) next.set(e.index, `${e.index}/${e.term}`);
    return next;
  };
  const batchArb = fc.record({ first: fc.integer({ min: 1, max: 30 }), count: fc.integer({ min: 0, max: 5 }), term: fc.integer({ min: 1, max: 3 }), snap: fc.boolean() });
  fc.assert(fc.property(fc.array(batchArb, { minLength: 1, maxLength: 8 }), (batches) => {
    let sequential: Log = new Map();
    let last = 0;
    const readies: Ready[] = [];
    for (const b of batches) {
      const snap = b.snap ? snapshot(b.first + 40) : null;
      const base = snap === null ? Math.min(b.first, last + 1) : b.first + 41;
      const es = b.count === 0 ? [] : entries(base, base + b.count - 1, b.term);
      const r = ready({ snapshot: snap, entries: es });
      readies.push(r);
      sequential = apply(sequential, r);
      last = es.at(-1)?.index ?? (snap === null ? last : snap.meta.index);
    }
    const merged = mergeWrites(readies);
    const once = merged === null ? new Map() : apply(new Map(), merged);
    return JSON.stringify([...once.entries()].sort()) === JSON.stringify([...sequential.entries()].sort());
  }));
});

t.test("the batcher holds batches while a write is in progress and releases them together", async (t) => {
  const batcher = new WriteBatcher();
  batcher.add(ready({ entries: entries(1, 1, 1) }));
  const first = batcher.take();
  t.equal(first?.readies.length, 1);
  t.ok(batcher.isWriting());
  batcher.add(ready({ entries: entries(2, 2, 1) }));
  batcher.add(ready({ messages: [] }));
  t.equal(batcher.take(), null, "nothing leaves while writing");
  batcher.written();
  const second = batcher.take();
  t.equal(second?.readies.length, 2, "both waiting batches leave in one write");
  t.same(second?.write?.entries.map((e) => e.index), [2]);
});
