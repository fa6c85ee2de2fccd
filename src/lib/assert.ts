/**
 * Invariant checks. A failed assertion is a bug in raftgres, never an expected condition: it
 * throws, and only the top level of a process catches it, logs it and exits non-zero
 * (shared/STYLE.md, "Errors: three kinds").
 */

export class AssertionError extends Error {
  override readonly name = "AssertionError";
}

export function assert(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) {
    throw new AssertionError(typeof message === "string" ? message : message());
  }
}

/** Ends every exhaustive switch: the compiler proves the case is unreachable, this proves it at run time. */
export function assertNever(value: never, what = "value"): never {
  throw new AssertionError(`unexpected ${what}: ${JSON.stringify(value)}`);
}

export function assertSafeInteger(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new AssertionError(`${what} must be a non-negative safe integer, got ${value}`);
  }
}
