/**
 * The messages between the agent and its watchdog process: one JSON object per line
 * (newline-delimited JSON). The agent writes commands on the process's stdin; the process writes
 * events on its stdout. Bigints (monotonic nanoseconds) travel as decimal strings.
 *
 *   agent → process   configure (first, once) · arm · disarm · targets · stop
 *   process → agent   ready | refused (answer to configure) · fired · reported · invalid
 */
import * as E from "fp-ts/lib/Either.js";
import { assert } from "../../lib/assert.js";
import type { MemberName, Scope } from "../../dcs/model.js";
import { checkFenceReport, checkReportTargets, FENCE_REASONS, type FenceReason, type FenceReport } from "./fence_report.js";

/** The longest line either side accepts; a configure with 16 long targets fits easily. */
export const WATCHDOG_LINE_BYTES_MAX = 64 * 1024;
/** How far ahead a deadline may be: a lease ttl is seconds; an hour means a bug. */
export const DEADLINE_DISTANCE_NS_MAX = 3_600n * 1_000_000_000n;

export type WatchdogCommand =
  | { readonly type: "configure"; readonly secret: string; readonly targets: readonly string[]; readonly devicePath: string | null }
  | { readonly type: "arm"; readonly processGroup: number; readonly deadlineNs: bigint; readonly report: FenceReport }
  | { readonly type: "disarm" }
  | { readonly type: "targets"; readonly urls: readonly string[] }
  | { readonly type: "stop" };

export type WatchdogEvent =
  | { readonly type: "ready"; readonly pid: number }
  | { readonly type: "refused"; readonly detail: string }
  | {
    readonly type: "fired";
    readonly processGroup: number;
    readonly reason: FenceReason;
    /** How long after the deadline the group was signalled (negative when the agent exited first). */
    readonly lateMs: number;
    /** Whether /proc showed the group gone within the confirmation bound. */
    readonly confirmed: boolean;
    readonly confirmMs: number;
    readonly alive: readonly number[];
  }
  | { readonly type: "reported"; readonly target: string; readonly ok: boolean; readonly attempts: number; readonly detail: string }
  | { readonly type: "invalid"; readonly detail: string };

export function encodeMessage(message: WatchdogCommand | WatchdogEvent): string {
  const line = JSON.stringify(message, (_key, value: unknown) => (typeof value === "bigint" ? value.toString() : value)) + "\n";
  assert(Buffer.byteLength(line) <= WATCHDOG_LINE_BYTES_MAX, () => `a watchdog message of ${line.length} characters is too long`);
  return line;
}

function parseObject(line: string): E.Either<string, Record<string, unknown>> {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (error: unknown) {
    return E.left(`not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return E.left("not a JSON object");
  return E.right(raw as Record<string, unknown>);
}

function isProcessGroup(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 1;
}

export function decodeCommand(line: string): E.Either<string, WatchdogCommand> {
  const parsed = parseObject(line);
  if (E.isLeft(parsed)) return parsed;
  const m = parsed.right;
  switch (m["type"]) {
    case "configure": {
      if (typeof m["secret"] !== "string" || m["secret"] === "") return E.left("configure: \"secret\" must be a non-empty string");
      if (m["devicePath"] !== null && typeof m["devicePath"] !== "string") {
        return E.left("configure: \"devicePath\" must be a string or null");
      }
      if (!Array.isArray(m["targets"])) return E.left("configure: \"targets\" must be a list");
      const targets = checkReportTargets(m["targets"] as unknown[]);
      if (E.isLeft(targets)) return E.left(`configure: ${targets.left}`);
      return E.right({ type: "configure", secret: m["secret"], targets: targets.right, devicePath: m["devicePath"] as string | null });
    }
    case "arm": {
      if (!isProcessGroup(m["processGroup"])) {
        return E.left(`arm: "processGroup" must be an integer above 1, got ${JSON.stringify(m["processGroup"])}`);
      }
      if (typeof m["deadlineNs"] !== "string" || !/^\d{1,20}$/.test(m["deadlineNs"])) {
        return E.left("arm: \"deadlineNs\" must be a decimal string");
      }
      const report = m["report"] as Record<string, unknown> | null | undefined;
      if (typeof report !== "object" || report === null) return E.left("arm: \"report\" must be an object");
      const fence: FenceReport = {
        scope: report["scope"] as Scope,
        member: report["member"] as MemberName,
        generation: report["generation"] as number,
      };
      const checked = checkFenceReport(fence);
      if (E.isLeft(checked)) return E.left(`arm: ${checked.left}`);
      return E.right({ type: "arm", processGroup: m["processGroup"], deadlineNs: BigInt(m["deadlineNs"]), report: fence });
    }
    case "disarm":
      return E.right({ type: "disarm" });
    case "stop":
      return E.right({ type: "stop" });
    case "targets": {
      if (!Array.isArray(m["urls"])) return E.left("targets: \"urls\" must be a list");
      const targets = checkReportTargets(m["urls"] as unknown[]);
      return E.isLeft(targets) ? E.left(`targets: ${targets.left}`) : E.right({ type: "targets", urls: targets.right });
    }
    default:
      return E.left(`unknown command type ${JSON.stringify(m["type"])}`);
  }
}

/** Events come from our own process: checked for shape only, enough to route them. */
export function decodeEvent(line: string): E.Either<string, WatchdogEvent> {
  const parsed = parseObject(line);
  if (E.isLeft(parsed)) return parsed;
  const type = parsed.right["type"];
  const known: readonly string[] = ["ready", "refused", "fired", "reported", "invalid"];
  if (typeof type !== "string" || !known.includes(type)) return E.left(`unknown event type ${JSON.stringify(type)}`);
  if (type === "fired" && !FENCE_REASONS.includes(parsed.right["reason"] as FenceReason)) return E.left("fired: unknown reason");
  return E.right(parsed.right as unknown as WatchdogEvent);
}

/**
 * Splits a text stream into lines, bounded: a line longer than the maximum is a broken peer;
 * `push` says so once (overflow) and drops that line up to its newline.
 */
export class LineSplitter {
  private buffer = "";
  private discarding = false;

  push(chunk: string): { lines: string[]; overflow: boolean } {
    const lines: string[] = [];
    let overflow = false;
    let text = this.buffer + chunk;
    for (let newline = text.indexOf("\n"); newline >= 0; newline = text.indexOf("\n")) {
      const line = text.slice(0, newline);
      text = text.slice(newline + 1);
      if (this.discarding) this.discarding = false;
      else if (line.trim() !== "") lines.push(line);
    }
    if (Buffer.byteLength(text) > WATCHDOG_LINE_BYTES_MAX) {
      overflow = !this.discarding;
      this.discarding = true;
      text = "";
    }
    this.buffer = text;
    return { lines, overflow };
  }
}
