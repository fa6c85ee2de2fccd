/**
 * A member's pending restart as it goes into its report: what PostgreSQL says (pg_settings, one
 * entry per parameter whose new value waits for a restart) fitted into the bounds of
 * command_bounds.ts. Whatever PostgreSQL answers — a long shared_preload_libraries, a value with
 * a newline, fifty parameters changed at once — the report must still be sent: a member whose
 * report is refused would soon be shown as gone. So long values are cut (ending in "…"), control
 * characters become spaces, and parameters past the bounds are left out of the reason; the flag
 * itself (a non-empty list) stays true. Pure.
 */
import { PARAMETER_NAME_CHARS_MAX, PARAMETER_VALUE_CHARS_MAX, PENDING_RESTART_CHARS_MAX, PENDING_RESTART_PARAMETERS_MAX } from "./command_bounds.js";
import type { PendingRestartParameter } from "./model.js";

/** What PostgreSQL reports: parameter name → the running value and the one a restart applies. */
export type PendingRestartReport = Readonly<Record<string, { readonly oldValue: string; readonly newValue: string }>>;

// Control characters (C0, DEL, C1): never in a line of a report (command_bounds.ts LINE).
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
const ELLIPSIS = "…";

function fitted(text: string, charsMax: number): string {
  const line = text.replace(CONTROL, " ");
  if (line.length <= charsMax) return line;
  let end = charsMax - ELLIPSIS.length;
  // Never half of a surrogate pair: it would not survive the UTF-8 of the log.
  const last = line.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${line.slice(0, end)}${ELLIPSIS}`;
}

/**
 * The report's parameters, sorted by name, within every bound; empty when nothing is pending.
 * Names that become equal once fitted (cut, or control characters replaced) are one entry.
 */
export function fitPendingRestart(report: PendingRestartReport): PendingRestartParameter[] {
  const entries = Object.entries(report);
  const all = entries
    .map(([raw, change]) => ({ name: fitted(raw, PARAMETER_NAME_CHARS_MAX), oldValue: fitted(String(change.oldValue), PARAMETER_VALUE_CHARS_MAX), newValue: fitted(String(change.newValue), PARAMETER_VALUE_CHARS_MAX) }))
    .filter((p) => p.name !== "")
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out: PendingRestartParameter[] = [];
  let chars = 0;
  for (const parameter of all) {
    if (out.length === PENDING_RESTART_PARAMETERS_MAX) break;
    if (out.length > 0 && out[out.length - 1]!.name === parameter.name) continue;
    const size = parameter.name.length + parameter.oldValue.length + parameter.newValue.length;
    if (chars + size > PENDING_RESTART_CHARS_MAX) break;
    chars += size;
    out.push(parameter);
  }
  // A pending restart whose every name was empty still says that a restart is pending.
  if (out.length === 0 && entries.length > 0) out.push({ name: "?", oldValue: "", newValue: "" });
  return out;
}

/** The list back as Patroni's reason: parameter name → the running and the new value. */
export function pendingRestartReport(parameters: readonly PendingRestartParameter[] | undefined): PendingRestartReport {
  // fromEntries defines own properties: a parameter named "__proto__" stays a key.
  return Object.fromEntries((parameters ?? []).map((p) => [p.name, { oldValue: p.oldValue, newValue: p.newValue }]));
}
