import t from "tap";
import { Bitset } from "../../lab/lincheck/bitset.js";

function bitset(size: number, members: readonly number[]): Bitset {
  const set = new Bitset(size);
  for (const member of members) set.set(member);
  return set;
}

t.test("set, clear and has agree across word boundaries", async (t) => {
  const set = bitset(70, [0, 31, 32, 63, 64, 69]);
  const probes = [0, 1, 31, 32, 33, 63, 64, 69];
  t.same(
    probes.map((i) => set.has(i)),
    [true, false, true, true, false, true, true, true],
  );
  set.clear(32);
  t.equal(set.has(32), false);
  t.equal(set.has(31), true);
  t.throws(() => set.has(70), { message: /bit 70 outside \[0, 70\)/ });
});

t.test("a clone is independent of its original", async (t) => {
  const original = bitset(40, [3]);
  const copy = original.clone();
  copy.set(4);
  t.equal(original.has(4), false);
});

t.test("dominates: same determinate part, fewer indeterminate members", async (t) => {
  // Members below 40 are determinate, 40 and above indeterminate.
  const base = bitset(100, [1, 31, 39]);
  t.ok(base.dominates(bitset(100, [1, 31, 39]), 40), "equal sets dominate each other");
  t.ok(base.dominates(bitset(100, [1, 31, 39, 40, 95]), 40), "extra indeterminate members");
  t.notOk(base.dominates(bitset(100, [1, 31, 39, 38]), 40), "extra determinate member");
  t.notOk(base.dominates(bitset(100, [1, 31]), 40), "missing determinate member");
  const withIndeterminate = bitset(100, [1, 31, 39, 41]);
  t.notOk(withIndeterminate.dominates(bitset(100, [1, 31, 39, 40]), 40), "not a subset");
  t.ok(bitset(64, [30]).dominates(bitset(64, [30, 31]), 31), "boundary at bit 31");
  t.notOk(bitset(64, [30]).dominates(bitset(64, [30, 31]), 32), "boundary at bit 32");
});
