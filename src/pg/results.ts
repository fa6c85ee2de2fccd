/**
 * The results every action returns (src/ha/ports.ts): Right for done, Left with a code the HA
 * executor handles and a message an operator can act on.
 */
import * as E from "fp-ts/lib/Either.js";
import type { PgFailureCode, PgResult } from "../ha/ports.js";

export const DONE: PgResult = E.right(undefined);

export function failure(code: PgFailureCode, message: string): PgResult {
  return E.left({ code, message });
}
