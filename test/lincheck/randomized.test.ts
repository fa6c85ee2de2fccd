import t from "tap";
import { assertNever } from "../../src/lib/assert.js";
import { createPrng, type Prng } from "../../src/lib/prng.js";
import { check, explain, registerModel, type Model, type Operation } from "../../lab/lincheck/index.js";
import { isLinearizableByBruteForce, linearizationError } from "../../lab/lincheck/reference_checker.js";
import { get, put, simulateRegisterHistory, type RegisterSimulation } from "../../lab/lincheck/register_history.js";
import type { RegisterInput, RegisterOperation, RegisterOutput } from "../../lab/lincheck/register_model.js";

/** Replaces the output of one determinate get with a value no operation ever writes. */
function withImpossibleRead(history: readonly RegisterOperation[], prng: Prng) {
  const reads = history.flatMap((op, index) =>
    op.input.kind === "get" && op.output !== undefined ? [index] : [],
  );
  if (reads.length === 0) return undefined;
  const index = reads[prng.int(0, reads.length)] ?? 0;
  const read = history[index];
  if (read === undefined) return undefined;
  const mutated = [...history];
  mutated[index] = { ...read, output: { kind: "get", value: "never-written" } };
  return { mutated, key: read.input.key };
}

t.test("histories of a linearizable register pass; one impossible read fails them", async (t) => {
  const simulation: RegisterSimulation = {
    clients: 4,
    operations: 0,
    keys: ["x", "y"],
    values: 3,
    indeterminateChance: 0.1,
  };
  let mutatedCount = 0;
  for (let seed = 1; seed <= 300; seed++) {
    const prng = createPrng(seed);
    const operations = prng.int(20, 120);
    const history = simulateRegisterHistory(prng, { ...simulation, operations });
    const result = check(registerModel, history);
    if (result.result !== "ok") {
      t.fail(`seed ${seed}: a simulated history is ${result.result}\n${explain(result)}`);
      continue;
    }
    for (const partition of result.partitions) {
      if (partition.result !== "ok") continue;
      const { operations, linearization } = partition;
      const error = linearizationError(registerModel, operations, linearization);
      if (error !== undefined) t.fail(`seed ${seed}, ${partition.label}: bad witness: ${error}`);
    }
    const planted = withImpossibleRead(history, prng);
    if (planted === undefined) continue;
    mutatedCount++;
    const broken = check(registerModel, planted.mutated);
    const illegal = broken.partitions.filter((partition) => partition.result === "illegal");
    if (broken.result !== "illegal" || illegal.length !== 1) {
      t.fail(`seed ${seed}: an impossible read gave ${broken.result}`);
    } else if (illegal[0]?.label !== `key ${JSON.stringify(planted.key)}`) {
      t.fail(`seed ${seed}: blamed ${illegal[0]?.label}, not key ${planted.key}`);
    }
  }
  t.ok(mutatedCount >= 250, `${mutatedCount} histories had a read to break`);
});

/** Small random histories with arbitrary outputs: about half of them are not linearizable. */
function randomRegisterHistory(prng: Prng): RegisterOperation[] {
  const values = ["a", "b"];
  const value = (): string => values[prng.int(0, values.length)] ?? "a";
  const inputs: (() => [RegisterInput, RegisterOutput])[] = [
    () => [{ kind: "put", key: "x", value: value() }, { kind: "put" }],
    () => [{ kind: "get", key: "x" }, { kind: "get", value: prng.chance(0.2) ? null : value() }],
    () => {
      const expected = prng.chance(0.2) ? null : value();
      const ok = prng.chance(0.5);
      return [{ kind: "cas", key: "x", expected, value: value() }, { kind: "cas", ok }];
    },
    () => [{ kind: "delete", key: "x" }, { kind: "delete" }],
  ];
  return randomHistory(prng, () => inputs[prng.int(0, inputs.length)]?.() ?? inputs[0]!());
}

function randomHistory<I, O>(prng: Prng, operation: () => [I, O]): Operation<I, O>[] {
  const history: Operation<I, O>[] = [];
  const free = [0, 0, 0];
  let nextClientId = free.length;
  const clientIds = free.map((_, slot) => slot);
  const count = prng.int(1, 9);
  for (let i = 0; i < count; i++) {
    const slot = prng.int(0, free.length);
    const call = (free[slot] ?? 0) + prng.int(0, 3);
    const returned = call + prng.int(0, 6);
    const indeterminate = prng.chance(0.3);
    const [input, output] = operation();
    const clientId = clientIds[slot] ?? 0;
    if (indeterminate) {
      history.push({ clientId, call, return: Infinity, input, output: undefined });
      clientIds[slot] = nextClientId++;
    } else {
      history.push({ clientId, call, return: returned, input, output });
    }
    free[slot] = returned;
  }
  return history;
}

t.test("the checker agrees with brute force on small random register histories", async (t) => {
  let linearizable = 0;
  for (let seed = 1; seed <= 3000; seed++) {
    const history = randomRegisterHistory(createPrng(seed));
    const expected = isLinearizableByBruteForce(registerModel, history);
    const actual = check(registerModel, history).result === "ok";
    if (actual !== expected) {
      t.fail(`seed ${seed}: checker says ${actual}, brute force ${expected}`);
      break;
    }
    if (expected) linearizable++;
  }
  t.ok(linearizable > 600 && linearizable < 2400, `${linearizable} of 3000 were linearizable`);
});

type CounterInput =
  | { readonly kind: "add" }
  | { readonly kind: "double" }
  | { readonly kind: "read" };

/**
 * A counter whose updates do not overwrite: runs of several indeterminate operations matter, and
 * the shared ADD input object makes them twins. This exercises what the register cannot.
 */
const counterModel: Model<number, CounterInput, number | "ok"> = {
  init: () => 0,
  step: (state, input, output) => {
    switch (input.kind) {
      case "add":
        return { ok: true, state: state + 1 };
      case "double":
        return { ok: true, state: state * 2 };
      case "read":
        return { ok: output === undefined || output === state, state };
      default:
        return assertNever(input, "counter input");
    }
  },
  readOnly: (input) => input.kind === "read",
  equal: (a, b) => a === b,
  hash: (state) => state,
  describeOperation: (input, output) => `${input.kind} → ${output ?? "?"}`,
  describeState: (state) => String(state),
};
const ADD: CounterInput = { kind: "add" };
const DOUBLE: CounterInput = { kind: "double" };

t.test("the checker agrees with brute force on a counter with indeterminate updates", async (t) => {
  let linearizable = 0;
  for (let seed = 1; seed <= 3000; seed++) {
    const prng = createPrng(seed);
    const history = randomHistory(prng, (): [CounterInput, number | "ok"] => {
      const roll = prng.next();
      if (roll < 0.4) return [ADD, "ok"];
      if (roll < 0.55) return [DOUBLE, "ok"];
      return [{ kind: "read" }, prng.int(0, 5)];
    });
    const expected = isLinearizableByBruteForce(counterModel, history);
    const actual = check(counterModel, history).result === "ok";
    if (actual !== expected) {
      t.fail(`seed ${seed}: checker says ${actual}, brute force ${expected}`);
      break;
    }
    if (expected) linearizable++;
  }
  t.ok(linearizable > 600 && linearizable < 2400, `${linearizable} of 3000 were linearizable`);
});

/** Appends two writes and a read of the first: a stale read at the very end. */
function withStaleReadAtEnd(history: readonly RegisterOperation[]): RegisterOperation[] {
  const end = Math.max(...history.map((op) => (op.return === Infinity ? op.call : op.return)));
  const client = Math.max(...history.map((op) => op.clientId)) + 1;
  return [
    ...history,
    put(client, [end + 1, end + 2], "x", "old"),
    put(client, [end + 3, end + 4], "x", "fresh"),
    get(client, [end + 5, end + 6], "x", "old"),
  ];
}

t.test("a 5000-operation history on one key takes a near-linear number of steps", async (t) => {
  const history = simulateRegisterHistory(createPrng(11), {
    clients: 5,
    operations: 5000,
    keys: ["x"],
    values: 5,
    indeterminateChance: 0,
  });
  const result = check(registerModel, history);
  t.equal(result.result, "ok", explain(result));
  const steps = result.partitions[0]?.steps ?? Infinity;
  t.ok(steps < 100_000, `${steps} steps`);
  const broken = check(registerModel, withStaleReadAtEnd(history));
  t.equal(broken.result, "illegal");
  const brokenSteps = broken.partitions[0]?.steps ?? Infinity;
  t.ok(brokenSteps < 2_000_000, `${brokenSteps} steps`);
});

t.test("a history with hundreds of indeterminate writes stays tractable", async (t) => {
  // Unique values, as a Jepsen-style harness writes them; a quarter of all operations time out.
  const history = simulateRegisterHistory(createPrng(13), {
    clients: 5,
    operations: 1500,
    keys: ["x"],
    values: 1_000_000,
    indeterminateChance: 0.25,
  });
  const indeterminateWrites = history.filter(
    (op) => op.return === Infinity && op.input.kind !== "get",
  );
  t.ok(indeterminateWrites.length > 200, `${indeterminateWrites.length} indeterminate writes`);
  const result = check(registerModel, history);
  t.equal(result.result, "ok", explain(result));
  t.ok((result.partitions[0]?.steps ?? Infinity) < 200_000, `${result.partitions[0]?.steps} steps`);
  const broken = check(registerModel, withStaleReadAtEnd(history));
  t.equal(broken.result, "illegal");
  const brokenSteps = broken.partitions[0]?.steps ?? Infinity;
  t.ok(brokenSteps < 5_000_000, `${brokenSteps} steps`);
});
