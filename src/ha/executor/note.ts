/**
 * A log line as data: what the executor's pure steps (src/ha/executor) want said; the HA loop
 * writes them to its logger, in order.
 */
import type { LogFields } from "../../lib/logger.js";

export interface Note {
  readonly level: "debug" | "info" | "warn" | "error";
  readonly message: string;
  readonly fields: LogFields;
}
