/**
 * A log line as data (the logger's own LoggedLine): what the executor's pure steps
 * (src/ha/executor) want said; the HA loop writes them to its logger, in order.
 */
import type { LoggedLine } from "../../lib/logger.js";

export type Note = LoggedLine;

/**
 * The line for a decision whose reason differs from the last one's (null when it does not): at
 * error level when only an operator can fix it (the data directory is inaccessible), so it is in
 * the log and not only in /patroni.
 */
export function decisionNote(last: { readonly reason: string } | null, decided: { readonly reason: string; readonly detail: string }, actions: readonly string[], operatorMustAct: boolean): Note | null {
  if (last?.reason === decided.reason) return null;
  return { level: operatorMustAct ? "error" : "info", message: decided.detail === "" ? decided.reason : `${decided.reason}: ${decided.detail}`, fields: { detail: decided.detail, actions } };
}
