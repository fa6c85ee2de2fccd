import t from "tap";
import { createPrng } from "../../src/lib/prng.js";
import { check, explain, registerModel } from "../../lab/lincheck/index.js";
import { cas, del, get, put, simulateRegisterHistory } from "../../lab/lincheck/register_history.js";
import type { RegisterOperation } from "../../lab/lincheck/register_model.js";

function verdict(history: readonly RegisterOperation[]): string {
  return check(registerModel, history).result;
}

t.test("an empty history is linearizable", async (t) => {
  t.equal(verdict([]), "ok");
});

t.test("a sequential legal history passes, with itself as the witness", async (t) => {
  const history = [
    get(1, [0, 1], "x", null),
    put(1, [2, 3], "x", "a"),
    get(2, [4, 5], "x", "a"),
    cas(2, [6, 7], "x", { expected: "a", value: "b", ok: true }),
    cas(1, [8, 9], "x", { expected: "a", value: "c", ok: false }),
    get(1, [10, 11], "x", "b"),
    del(2, [12, 13], "x"),
    get(1, [14, 15], "x", null),
    cas(1, [16, 17], "x", { expected: null, value: "d", ok: true }),
    get(2, [18, 19], "x", "d"),
  ];
  const result = check(registerModel, history);
  t.equal(result.result, "ok", explain(result));
  const partition = result.partitions[0];
  t.equal(partition?.result === "ok" && partition.linearization.length, history.length);
  t.same(partition?.result === "ok" ? partition.linearization : [], history);
});

t.test("overlapping writes may take effect in either order", async (t) => {
  const writes = [put(1, [0, 10], "x", "a"), put(2, [2, 12], "x", "b")];
  t.equal(verdict([...writes, get(3, [20, 30], "x", "a")]), "ok");
  t.equal(verdict([...writes, get(3, [20, 30], "x", "b")]), "ok");
  t.equal(verdict([...writes, get(3, [20, 30], "x", "c")]), "illegal");
});

t.test("reads concurrent with a write may see the old or the new value", async (t) => {
  const history = [
    put(1, [0, 5], "x", "old"),
    put(2, [10, 40], "x", "new"),
    get(3, [12, 20], "x", "new"),
    get(4, [22, 30], "x", "new"),
    get(5, [15, 35], "x", "old"), // overlaps both: may be linearized before the write
  ];
  t.equal(verdict(history), "ok");
});

t.test("a read cannot go back to the old value once another read saw the new one", async (t) => {
  const history = [
    put(1, [0, 5], "x", "old"),
    put(2, [10, 40], "x", "new"),
    get(3, [12, 20], "x", "new"),
    get(4, [22, 30], "x", "old"), // starts after a read saw "new" finished
  ];
  t.equal(verdict(history), "illegal");
});

t.test("planted bug: a stale read after a newer write completed is illegal", async (t) => {
  const history = [
    put(1, [0, 10], "x", "a"),
    put(2, [20, 30], "x", "b"),
    get(3, [40, 50], "x", "a"),
  ];
  t.equal(verdict(history), "illegal");
});

t.test("planted bug: an acknowledged write that reads never see is a lost write", async (t) => {
  const history = [
    put(1, [0, 10], "x", "a"),
    get(2, [12, 18], "x", "a"),
    put(1, [20, 30], "x", "b"), // acknowledged
    get(2, [35, 45], "x", "a"),
    get(3, [50, 60], "x", "a"),
  ];
  t.equal(verdict(history), "illegal");
  // The same reads are fine while the write is still in flight (or never acknowledged).
  const inFlight = history.map((op, i) => (i === 2 ? put(1, [20, 70], "x", "b") : op));
  t.equal(verdict(inFlight), "ok");
});

t.test("planted bug: reading a value nobody wrote is illegal", async (t) => {
  const history = [put(1, [0, 10], "x", "a"), get(2, [5, 15], "x", "z")];
  t.equal(verdict(history), "illegal");
});

t.test("planted bug: two cas from the same expected value cannot both succeed", async (t) => {
  const setup = put(1, [0, 5], "x", "0");
  const first = cas(2, [10, 20], "x", { expected: "0", value: "1", ok: true });
  const second = cas(3, [12, 22], "x", { expected: "0", value: "2", ok: true });
  t.equal(verdict([setup, first, second]), "illegal");
  const secondFails = cas(3, [12, 22], "x", { expected: "0", value: "2", ok: false });
  t.equal(verdict([setup, first, secondFails]), "ok", "one success and one failure is fine");
});

t.test("planted bug: two leaders accepting ordered writes, observed out of order", async (t) => {
  // Two clients write through different Raft leaders; the second write starts after the first
  // was acknowledged, so every linearization puts "a" before "b". Readers then see "b" and,
  // later, "a" again: the old leader's copy.
  const history = [
    put(1, [0, 10], "x", "a"),
    put(2, [20, 30], "x", "b"),
    get(3, [40, 50], "x", "b"),
    get(4, [60, 70], "x", "a"),
  ];
  t.equal(verdict(history), "illegal");
});

t.test("an indeterminate write may have taken effect", async (t) => {
  const history = [
    put(1, [0, 10], "x", "a"),
    put(2, [20, Infinity], "x", "b"),
    get(3, [30, 40], "x", "b"),
  ];
  t.equal(verdict(history), "ok");
});

t.test("an indeterminate write may never have taken effect", async (t) => {
  const history = [
    put(1, [0, 10], "x", "a"),
    put(2, [20, Infinity], "x", "b"),
    get(3, [30, 40], "x", "a"),
  ];
  const result = check(registerModel, history);
  t.equal(result.result, "ok");
  const partition = result.partitions[0];
  const witness = partition?.result === "ok" ? partition.linearization : [];
  t.same(witness, [history[0], history[2]], "left out of the witness");
});

t.test("an indeterminate write may take effect long after its call", async (t) => {
  const history = [
    put(1, [0, 10], "x", "a"),
    put(2, [20, Infinity], "x", "b"),
    get(3, [30, 40], "x", "a"),
    get(3, [1000, 1010], "x", "b"),
  ];
  t.equal(verdict(history), "ok");
});

t.test("an indeterminate write takes effect at most once", async (t) => {
  const history = [
    put(1, [0, 10], "x", "a"),
    put(2, [20, Infinity], "x", "b"),
    get(3, [30, 40], "x", "b"),
    put(1, [50, 60], "x", "c"),
    get(3, [70, 80], "x", "b"),
  ];
  t.equal(verdict(history), "illegal");
});

t.test("an indeterminate write cannot take effect before its call", async (t) => {
  const write = put(2, [20, Infinity], "x", "b");
  t.equal(verdict([put(1, [0, 5], "x", "a"), get(3, [8, 15], "x", "b"), write]), "illegal");
  t.equal(verdict([put(1, [0, 5], "x", "a"), get(3, [8, 20], "x", "b"), write]), "ok", "touching");
});

t.test("an indeterminate cas takes effect only where its expected value is", async (t) => {
  const setup = [
    put(1, [0, 10], "x", "a"),
    cas(2, [20, Infinity], "x", { expected: "a", value: "b", ok: true }),
  ];
  t.equal(verdict([...setup, get(3, [30, 40], "x", "b")]), "ok");
  t.equal(verdict([...setup, get(3, [30, 40], "x", "a")]), "ok");
  const moved = [...setup, put(4, [12, 15], "x", "c"), get(3, [30, 40], "x", "b")];
  t.equal(verdict(moved), "illegal", "the value it expected was overwritten before its call");
});

t.test("an indeterminate delete may or may not have taken effect", async (t) => {
  const setup = [put(1, [0, 10], "x", "a"), del(2, [20, Infinity], "x")];
  t.equal(verdict([...setup, get(3, [30, 40], "x", null)]), "ok");
  t.equal(verdict([...setup, get(3, [30, 40], "x", "a")]), "ok");
  t.equal(verdict([...setup, get(3, [30, 40], "x", null), get(3, [50, 60], "x", "a")]), "illegal");
});

t.test("an illegal history reports its longest prefix and what cannot follow", async (t) => {
  const history = [
    put(1, [0, 10], "x", "a"),
    put(2, [20, 30], "x", "b"),
    get(3, [40, 50], "x", "a"),
  ];
  const result = check(registerModel, history);
  const partition = result.partitions[0];
  if (partition?.result !== "illegal") {
    throw new Error(`expected illegal, got ${partition?.result}`);
  }
  const { failure } = partition;
  t.same(failure.longestPrefix, [history[0], history[1]]);
  t.equal(failure.stateAfterPrefix, '"b"');
  t.same(failure.notLinearizable, [history[2]]);
  t.match(failure.explanation, 'key "x" (3 operations) is not linearizable');
  t.match(failure.explanation, '2. client 2 [20, 30] put("x", "b") → ok');
  const rejected = 'client 3 [40, 50] get("x") → "a": the model rejects it in this state';
  t.match(failure.explanation, rejected);
  t.equal(explain(result), failure.explanation);
});

t.test("merging unread values never lets a read of the placeholder text pass", async (t) => {
  // The register model merges values nobody reads into one placeholder before the search.
  const placeholder = "<a value no get returns and no cas expects>";
  t.equal(verdict([put(1, [0, 10], "x", "unread"), get(2, [20, 30], "x", placeholder)]), "illegal");
  t.equal(verdict([put(1, [0, 10], "x", placeholder), get(2, [20, 30], "x", placeholder)]), "ok");
});

t.test("a bug on one key is found among many correct keys", async (t) => {
  const keys = Array.from({ length: 200 }, (_, i) => `k${i}`);
  const history = simulateRegisterHistory(createPrng(7), {
    clients: 8,
    operations: 4000,
    keys,
    values: 4,
    indeterminateChance: 0.05,
  });
  t.equal(check(registerModel, history).result, "ok");
  const lastClient = Math.max(...history.map((op) => op.clientId));
  const end = Math.max(...history.map((op) => op.call));
  const buggy = [
    ...history,
    put(lastClient + 1, [end + 10, end + 11], "k137", "fresh"),
    get(lastClient + 2, [end + 20, end + 21], "k137", "stale"),
  ];
  const result = check(registerModel, buggy);
  t.equal(result.result, "illegal");
  const illegal = result.partitions.filter((partition) => partition.result === "illegal");
  t.same(illegal.map((partition) => partition.label), ['key "k137"']);
  t.equal(result.partitions.length, 200);
});

t.test("the time budget yields unknown when a fake clock jumps past it", async (t) => {
  const history = simulateRegisterHistory(createPrng(3), {
    clients: 4,
    operations: 200,
    keys: ["x", "y"],
    values: 3,
    indeterminateChance: 0,
  });
  let reads = 0;
  const jumpingClock = (): number => (reads++ < 3 ? 0 : 1e9);
  const result = check(registerModel, history, {
    timeoutMs: 1000,
    now: jumpingClock,
    clockReadIntervalSteps: 1,
  });
  t.equal(result.result, "unknown");
  t.match(explain(result), /time budget of 1000 ms ran out after \d+ steps/);
  t.match(explain(result), /ran out before it/, "the later partition is not searched at all");
  const standingClock = (): number => 0;
  const options = { timeoutMs: 1000, now: standingClock, clockReadIntervalSteps: 1 };
  t.equal(check(registerModel, history, options).result, "ok", "a clock that stands still");
});

t.test("illegal wins over unknown in the overall verdict", async (t) => {
  const history = [
    put(1, [0, 10], "a", "1"),
    get(2, [20, 30], "a", "2"), // partition "a": illegal
    put(3, [0, 10], "b", "1"),
    get(4, [20, 30], "b", "1"), // partition "b": not searched, the clock has jumped
  ];
  let reads = 0;
  const result = check(registerModel, history, {
    timeoutMs: 1000,
    now: () => (reads++ < 2 ? 0 : 1e9),
  });
  t.same(result.partitions.map((partition) => partition.result), ["illegal", "unknown"]);
  t.equal(result.result, "illegal");
});
