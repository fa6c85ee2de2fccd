/**
 * The HA decision: a pure function from (cluster state, local PostgreSQL, local time, what the
 * agent remembers) to the actions of this cycle, with one sentence for operators. The rules are
 * tried in order; the first that applies decides (one file per situation under rules/).
 */
import { assert } from "../lib/assert.js";
import type { Action } from "./actions.js";
import type { HaDecision, HaInput } from "./input.js";
import { bootstrapRule } from "./rules/bootstrap.js";
import { followerRule } from "./rules/follower.js";
import { holderRule } from "./rules/holder.js";
import { raceRule } from "./rules/race.js";
import { checkSettings } from "./settings.js";
import { decision, safeTimeLeftMs } from "./facts.js";

const RULES: readonly ((input: HaInput) => HaDecision | null)[] = [fenceRule, bootstrapRule, holderRule, followerRule, raceRule];

export function decide(input: HaInput): HaDecision {
  checkSettings(input.settings);
  assert(input.view === null || input.view.scope.length > 0, "a view has a scope");
  for (const rule of RULES) {
    const decided = rule(input);
    if (decided !== null) {
      checkDecision(input, decided);
      return decided;
    }
  }
  return decision([], "nothing to do");
}

/**
 * First of all: a running primary whose local lease deadline is past (or near) stops at once,
 * whatever the log says — the log may be stale and another member may already hold the lease.
 */
function fenceRule(input: HaInput): HaDecision | null {
  const { pg } = input;
  if (input.lease === null || pg.role !== "primary" || (pg.process !== "running" && pg.process !== "starting")) return null;
  if (safeTimeLeftMs(input) > 0) return null;
  return decision([{ kind: "stop", mode: "immediate" }], "stopping PostgreSQL: the lease could not be renewed in time", `deadline passed or within ${input.settings.watchdogMarginMs + input.settings.demoteLeadMs} ms`);
}

/** Invariants of every decision. */
function checkDecision(input: HaInput, d: HaDecision): void {
  assert(d.reason.length > 0, "every decision says why");
  const kinds = d.actions.map((a: Action) => (a.kind === "dcs" ? `dcs:${a.command.kind}` : a.kind));
  const long = kinds.filter((k) => ["bootstrap", "clone", "start", "stop", "promote", "rewind", "reinit"].includes(k));
  assert(long.length <= 1, () => `at most one long action per cycle, got ${kinds.join(", ")}`);
  assert(input.busy === null || long.length === 0 || kinds.includes("stop"), () => `no long action while ${input.busy} runs (got ${kinds.join(", ")})`);
  if (kinds.includes("promote")) assert(kinds.includes("dcs:renewLease"), "promote only while renewing a held lease");
  // A timeline is recorded by the holder, or by the last one to take over for its own promotion
  // that lost the majority before the record committed (race.ts unrecordedPromotion).
  const lastTakeover = input.view?.takeover?.holder === input.me;
  if (kinds.includes("dcs:recordTimeline")) assert(kinds.includes("dcs:renewLease") || lastTakeover, "a timeline is recorded only while renewing a held lease, or by the last member to take over");
  if (kinds.includes("dcs:acquireLease")) assert(!kinds.includes("promote"), "promote only after the lease is committed, never with the acquire");
}
