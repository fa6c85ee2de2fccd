/**
 * The sequential specification of raftgres's key/value store as seen by a client: one register
 * per key, initially absent (null). Operations on different keys are independent, so the model
 * partitions the history by key and each key is checked on its own (P-compositionality).
 *
 * Indeterminate operations (output undefined): a put or delete takes effect if linearized; a cas
 * takes effect if the expected value is there at that point; a get has no effect and constrains
 * nothing, so `partition` drops indeterminate gets before the search.
 */
import { assert, assertNever } from "../../src/lib/assert.js";
import { isIndeterminate, type Operation } from "./history.js";
import type { Model, StepResult } from "./model.js";

export type RegisterInput =
  | { readonly kind: "put"; readonly key: string; readonly value: string }
  | { readonly kind: "get"; readonly key: string }
  /** Compare-and-set; expected null means "only if the key is absent". */
  | {
      readonly kind: "cas";
      readonly key: string;
      readonly expected: string | null;
      readonly value: string;
    }
  | { readonly kind: "delete"; readonly key: string };

export type RegisterOutput =
  | { readonly kind: "put" }
  | { readonly kind: "get"; readonly value: string | null }
  | { readonly kind: "cas"; readonly ok: boolean }
  | { readonly kind: "delete" };

/** The value of one key; null when absent. */
export type RegisterState = string | null;

export type RegisterOperation = Operation<RegisterInput, RegisterOutput>;

export const registerModel: Model<RegisterState, RegisterInput, RegisterOutput> = {
  init: () => null,
  step: stepRegister,
  readOnly: (_input, output) => output.kind === "get" || (output.kind === "cas" && !output.ok),
  equal: (a, b) => a === b,
  hash: (state) => (state === null ? 0x5bd1e995 : hashString(state)),
  partition: partitionByKey,
  canonicalize: canonicalizeRegister,
  describePartition: (history) => {
    const first = history[0];
    return first === undefined ? "no operations" : `key ${JSON.stringify(first.input.key)}`;
  },
  describeOperation: describeRegisterOperation,
  describeState: (state) => (state === null ? "absent" : JSON.stringify(state)),
};

function stepRegister(
  state: RegisterState,
  input: RegisterInput,
  output: RegisterOutput | undefined,
): StepResult<RegisterState> {
  assert(
    output === undefined || output.kind === input.kind,
    () => `a ${input.kind} operation cannot return a ${output?.kind} output`,
  );
  switch (input.kind) {
    case "put":
      return { ok: true, state: input.value };
    case "delete":
      return { ok: true, state: null };
    case "get":
      if (output?.kind !== "get") return { ok: true, state };
      return { ok: output.value === state, state };
    case "cas": {
      const matches = state === input.expected;
      const after = matches ? input.value : state;
      if (output?.kind !== "cas") return { ok: true, state: after };
      return { ok: output.ok === matches, state: after };
    }
    default:
      return assertNever(input, "register input");
  }
}

function partitionByKey(history: readonly RegisterOperation[]): RegisterOperation[][] {
  const byKey = new Map<string, RegisterOperation[]>();
  for (const operation of history) {
    if (operation.input.kind === "get" && isIndeterminate(operation)) continue;
    const operations = byKey.get(operation.input.key);
    if (operations === undefined) byKey.set(operation.input.key, [operation]);
    else operations.push(operation);
  }
  return [...byKey.values()];
}

/**
 * Two rewrites that keep linearizability exactly. First, a value that no get returned and no cas
 * expected cannot be told from any other such value: every get and cas behaves the same on all
 * of them. So they all become one placeholder, which merges search states. Second, identical
 * inputs become one object, which lets the search treat identical indeterminate operations as
 * twins (event_list.ts). Together they make a crowd of unread indeterminate puts one choice.
 */
function canonicalizeRegister(history: readonly RegisterOperation[]): RegisterOperation[] {
  const observed = new Set<string>();
  for (const { input, output } of history) {
    if (output?.kind === "get" && output.value !== null) observed.add(output.value);
    if (input.kind === "cas" && input.expected !== null) observed.add(input.expected);
  }
  // The placeholder must differ from every value some operation can tell apart.
  let placeholder = UNREAD_VALUE;
  while (observed.has(placeholder)) placeholder += "'";
  const canonical = (value: string): string => (observed.has(value) ? value : placeholder);
  const interned = new Map<string, RegisterInput>();
  return history.map((operation) => {
    const { input } = operation;
    const rewritten = "value" in input ? { ...input, value: canonical(input.value) } : input;
    const key = JSON.stringify(rewritten);
    const shared = interned.get(key) ?? rewritten;
    interned.set(key, shared);
    return { ...operation, input: shared };
  });
}

/** The placeholder for values nobody reads; chosen to be self-explanatory in a report. */
const UNREAD_VALUE = "<a value no get returns and no cas expects>";

function describeRegisterOperation(
  input: RegisterInput,
  output: RegisterOutput | undefined,
): string {
  const key = JSON.stringify(input.key);
  const call = ((): string => {
    switch (input.kind) {
      case "put":
        return `put(${key}, ${JSON.stringify(input.value)})`;
      case "get":
        return `get(${key})`;
      case "cas":
        return `cas(${key}, ${JSON.stringify(input.expected)}, ${JSON.stringify(input.value)})`;
      case "delete":
        return `delete(${key})`;
      default:
        return assertNever(input, "register input");
    }
  })();
  if (output === undefined) return `${call} → ? (indeterminate)`;
  switch (output.kind) {
    case "get":
      return `${call} → ${JSON.stringify(output.value)}`;
    case "cas":
      return `${call} → ${output.ok}`;
    case "put":
    case "delete":
      return `${call} → ok`;
    default:
      return assertNever(output, "register output");
  }
}

/** FNV-1a over UTF-16 code units: cheap, and good enough to spread values over buckets. */
function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  }
  return hash | 0;
}
