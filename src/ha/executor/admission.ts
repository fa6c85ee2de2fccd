/**
 * Whether a PostgreSQL action decide() asked for runs now (issue 17 item 1): one long action at a
 * time; an immediate stop asked for during another action kills PostgreSQL's process group; and
 * nothing that makes PostgreSQL take writes (a promotion, a start as the primary) runs unless the
 * lease is safe at that moment — the decision was made against the lease as it was, and a
 * renewal before the action may have waited out its timeout since. Pure.
 */
import type { MemberName } from "../../dcs/model.js";
import type { ScopeView } from "../../dcs/views.js";
import type { PostgresAction, PostgresActionKind } from "../actions.js";
import type { LocalLease } from "../input.js";
import type { HaSettings } from "../settings.js";
import { writeFenceProblem } from "./lease_keeping.js";
import type { Note } from "./note.js";

/** A long action after which PostgreSQL takes writes. */
export function makesWritable(action: PostgresAction): boolean {
  return action.kind === "promote" || (action.kind === "start" && action.as === "primary");
}

export type Admission =
  | { readonly kind: "run" }
  /** Another action holds PostgreSQL and this one waits for a later cycle. */
  | { readonly kind: "wait" }
  /** Another action holds PostgreSQL, and this is an immediate stop: kill its process group. */
  | { readonly kind: "kill"; readonly why: string }
  /** Not now: the lease is not safe for writes; a cycle runs again at once. */
  | { readonly kind: "refuse"; readonly note: Note };

export function admitLongAction(action: PostgresAction, now: { readonly busy: PostgresActionKind | null; readonly lease: LocalLease | null; readonly nowMs: number; readonly settings: Pick<HaSettings, "watchdogMarginMs" | "demoteLeadMs"> }): Admission {
  if (now.busy !== null) return action.kind === "stop" && action.mode === "immediate" ? { kind: "kill", why: `stop requested during ${now.busy}` } : { kind: "wait" };
  const problem = makesWritable(action) ? writeFenceProblem(now.lease, now.settings, now.nowMs) : null;
  if (problem === null) return { kind: "run" };
  const what = action.kind === "promote" ? "promoting" : "starting PostgreSQL as the primary";
  return { kind: "refuse", note: { level: "warn", message: `not ${what}: ${problem}`, fields: { action: action.kind } } };
}

/** This member holds the lease and a request asks it to hand the primary role to another. */
export function handingOver(view: ScopeView | null, lease: LocalLease | null, me: MemberName): boolean {
  const pending = view?.pending ?? null;
  if (pending === null || lease === null || view?.lease?.holder !== me) return false;
  return pending.to !== me && (pending.from === null || pending.from === me);
}

/**
 * A postmaster was just spawned and cannot accept a connection yet: the watchdog covers it from
 * now on — or, when it is to be the primary (`becomesWritable`) and the lease's safe time ran out
 * while the start waited (behind a renewal, say), it is killed before it can acknowledge a single
 * write.
 */
export function spawnedAct(becomesWritable: boolean, lease: LocalLease | null, nowMs: number, settings: Pick<HaSettings, "watchdogMarginMs" | "demoteLeadMs">): { readonly kind: "arm" } | { readonly kind: "kill"; readonly why: string } {
  const problem = becomesWritable ? writeFenceProblem(lease, settings, nowMs) : null;
  return problem === null ? { kind: "arm" } : { kind: "kill", why: `it would be the primary, but ${problem}` };
}
