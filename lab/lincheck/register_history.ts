/**
 * Helpers that make register histories for tests: terse builders for hand-written scenarios, and
 * a simulator that records the history of a real linearizable in-memory register accessed by
 * concurrent clients, so that every history it produces is linearizable by construction.
 */
import { assert, assertNever } from "../../src/lib/assert.js";
import type { Prng } from "../../src/lib/prng.js";
import type { RegisterInput, RegisterOperation, RegisterOutput } from "./register_model.js";

/** [call, return]; a return of Infinity makes the operation indeterminate. */
export type Interval = readonly [number, number];

function operation(
  clientId: number,
  [call, returned]: Interval,
  input: RegisterInput,
  output: RegisterOutput,
): RegisterOperation {
  const known = returned === Infinity ? undefined : output;
  return { clientId, call, return: returned, input, output: known };
}

export function put(clientId: number, at: Interval, key: string, value: string): RegisterOperation {
  return operation(clientId, at, { kind: "put", key, value }, { kind: "put" });
}

/** `value` is what the get returned; it is ignored when the get is indeterminate. */
export function get(
  clientId: number,
  at: Interval,
  key: string,
  value: string | null,
): RegisterOperation {
  return operation(clientId, at, { kind: "get", key }, { kind: "get", value });
}

export function cas(
  clientId: number,
  at: Interval,
  key: string,
  change: { readonly expected: string | null; readonly value: string; readonly ok: boolean },
): RegisterOperation {
  const { expected, value, ok } = change;
  return operation(clientId, at, { kind: "cas", key, expected, value }, { kind: "cas", ok });
}

export function del(clientId: number, at: Interval, key: string): RegisterOperation {
  return operation(clientId, at, { kind: "delete", key }, { kind: "delete" });
}

export interface RegisterSimulation {
  /** How many clients run at once; a client that times out is replaced by a new clientId. */
  readonly clients: number;
  readonly operations: number;
  readonly keys: readonly string[];
  /** Values are drawn from v0 … v(values - 1): a small domain makes reads ambiguous. */
  readonly values: number;
  readonly indeterminateChance: number;
}

const THINK_TICKS_MAX = 4;
const LATENCY_TICKS_MAX = 12;

interface Planned {
  readonly clientId: number;
  readonly call: number;
  /** When the operation takes effect on the register; undefined if it never does. */
  readonly effect: number | undefined;
  readonly return: number;
  readonly input: RegisterInput;
}

/**
 * Each operation takes effect atomically at one tick between its call and its return, in the
 * order of those ticks, on a plain Map: that order is a linearization, so the history is legal.
 * An indeterminate operation takes effect or not (a coin flip), and its client is replaced.
 */
export function simulateRegisterHistory(
  prng: Prng,
  options: RegisterSimulation,
): RegisterOperation[] {
  const { clients: clientCount, keys, values } = options;
  assert(clientCount >= 1 && keys.length >= 1 && values >= 1, "empty simulation");
  const clients = Array.from({ length: options.clients }, (_, clientId) => ({ clientId, free: 0 }));
  let nextClientId = options.clients;
  const planned: Planned[] = [];
  for (let i = 0; i < options.operations; i++) {
    // The client that has been idle longest goes next, so clients stay interleaved in time.
    const client = clients.reduce((a, b) => (b.free < a.free ? b : a));
    const call = client.free + prng.int(0, THINK_TICKS_MAX + 1);
    const effect = call + prng.int(0, LATENCY_TICKS_MAX + 1);
    const returned = effect + prng.int(0, LATENCY_TICKS_MAX + 1);
    const input = randomInput(prng, options);
    if (prng.chance(options.indeterminateChance)) {
      const effectIfAny = prng.chance(0.5) ? effect : undefined;
      const { clientId } = client;
      planned.push({ clientId, call, effect: effectIfAny, return: Infinity, input });
      client.clientId = nextClientId++;
    } else {
      planned.push({ clientId: client.clientId, call, effect, return: returned, input });
    }
    client.free = returned;
  }
  const outputs = applyInEffectOrder(planned);
  return planned.map((p, i) => ({
    clientId: p.clientId,
    call: p.call,
    return: p.return,
    input: p.input,
    output: p.return === Infinity ? undefined : outputs[i],
  }));
}

function applyInEffectOrder(planned: readonly Planned[]): (RegisterOutput | undefined)[] {
  const order = planned
    .map((p, index) => ({ effect: p.effect, index }))
    .filter((p): p is { effect: number; index: number } => p.effect !== undefined)
    .sort((a, b) => a.effect - b.effect || a.index - b.index);
  const store = new Map<string, string>();
  const outputs: (RegisterOutput | undefined)[] = planned.map(() => undefined);
  for (const { index } of order) {
    const input = planned[index]?.input;
    assert(input !== undefined, "planned operation out of range");
    outputs[index] = applyToStore(store, input);
  }
  return outputs;
}

function applyToStore(store: Map<string, string>, input: RegisterInput): RegisterOutput {
  const current = store.get(input.key) ?? null;
  switch (input.kind) {
    case "put":
      store.set(input.key, input.value);
      return { kind: "put" };
    case "get":
      return { kind: "get", value: current };
    case "cas":
      if (current !== input.expected) return { kind: "cas", ok: false };
      store.set(input.key, input.value);
      return { kind: "cas", ok: true };
    case "delete":
      store.delete(input.key);
      return { kind: "delete" };
    default:
      return assertNever(input, "register input");
  }
}

function randomInput(prng: Prng, options: RegisterSimulation): RegisterInput {
  const key = options.keys[prng.int(0, options.keys.length)] ?? "";
  const value = `v${prng.int(0, options.values)}`;
  const roll = prng.next();
  if (roll < 0.35) return { kind: "put", key, value };
  if (roll < 0.7) return { kind: "get", key };
  if (roll < 0.9) {
    const expected = prng.chance(0.2) ? null : `v${prng.int(0, options.values)}`;
    return { kind: "cas", key, expected, value };
  }
  return { kind: "delete", key };
}
