/**
 * Which members could become primary, and why the others cannot: the rules a switchover or a
 * failover target must meet (Patroni's is_failover_possible, with a reason for every refusal).
 * Pure: a function of the scope's state and the current entry time.
 */
import { configNumber, type MemberName, type MemberRecord, type ScopeState } from "./model.js";
import type { CandidateProblem } from "./rejection.js";
import { syncModeOf, syncPromotionProblem } from "./sync_mode.js";

/** A member not heard from for longer than the `ttl` setting is gone (shown, never deleted). */
export function isGone(member: MemberRecord, scope: ScopeState, nowMs: number): boolean {
  return nowMs - member.lastSeenMs > configNumber(scope.config, "ttl") * 1000;
}

/** The primary's WAL position as it last reported it, if any. */
export function primaryLsn(scope: ScopeState): bigint | null {
  const holder = scope.lease?.holder;
  const primary = holder === undefined ? undefined : scope.members.get(holder);
  return primary?.walWritten ?? null;
}

export interface CandidateOptions {
  /** A failover is forced: lag does not disqualify. */
  readonly ignoreLag: boolean;
}

/** Why `member` may not become primary now, or null if it may. */
export function candidateProblem(scope: ScopeState, name: MemberName, nowMs: number, options: CandidateOptions): string | null {
  const member = scope.members.get(name);
  if (member === undefined) return `${name} is not a member of the cluster`;
  if (scope.lease?.holder === name && scope.lease.expiresAtMs > nowMs) return `${name} is already the primary`;
  if (isGone(member, scope, nowMs)) return `${name} has not reported for ${Math.round((nowMs - member.lastSeenMs) / 1000)} s (ttl ${configNumber(scope.config, "ttl")} s)`;
  if (member.role !== "replica") return `${name} is not a replica (role: ${member.role})`;
  if (member.state !== "streaming" && member.state !== "running") return `${name} is not streaming (state: ${member.state})`;
  if (member.tags.nofailover || member.tags.failoverPriority <= 0) return `${name} is tagged nofailover`;
  if (scope.maintenance.has(name)) return `${name} is in maintenance`;
  if (!options.ignoreLag) {
    const lag = lagBytes(scope, member);
    const maximum = configNumber(scope.config, "maximum_lag_on_failover");
    if (lag !== null && lag > maximum) return `${name} is ${lag} bytes behind the primary (maximum_lag_on_failover is ${maximum})`;
  }
  return null;
}

/** How far a replica's received WAL is behind the primary's written WAL, when both are known. */
export function lagBytes(scope: ScopeState, member: MemberRecord): number | null {
  const primary = primaryLsn(scope);
  const received = member.walReceived ?? member.walReplayed;
  if (primary === null || received === null) return null;
  const lag = primary - received;
  return lag > 0n ? Number(lag) : 0;
}

/** The WAL position of the primary, or when there is none of the last one (as it last reported it). */
export function referenceLsn(scope: ScopeState): bigint | null {
  const live = primaryLsn(scope);
  if (live !== null) return live;
  const last = scope.primaryHistory[scope.primaryHistory.length - 1]?.newPrimary;
  return last === undefined ? null : (scope.members.get(last)?.walWritten ?? null);
}

/**
 * A failover target without --allow-data-loss: beside candidateProblem's checks, it must not be
 * further behind the (last) primary than maximum_lag_on_failover, and in a synchronous mode it
 * must be known to hold every acknowledged commit (sync_mode.ts), judged on the reports members
 * made within the ttl.
 */
export function failoverLossProblem(scope: ScopeState, name: MemberName, nowMs: number): string | null {
  const member = scope.members.get(name);
  if (member === undefined) return null;
  const position = member.walReceived ?? member.walReplayed;
  const reference = referenceLsn(scope);
  const maximum = configNumber(scope.config, "maximum_lag_on_failover");
  if (reference !== null && position !== null && reference - position > BigInt(maximum)) {
    return `${name} is ${reference - position} bytes behind the primary's last reported position (maximum_lag_on_failover is ${maximum})`;
  }
  const mode = syncModeOf(scope.config);
  if (mode.mode === "off" || position === null) return null;
  const others = [...scope.members.values()].map((m) => ({ name: m.name, position: m.walReceived ?? m.walReplayed ?? m.walWritten, fresh: !isGone(m, scope, nowMs) }));
  return syncPromotionProblem(scope.sync, mode.strict, name, position, others);
}

/** Every member but the primary, each with the reason it cannot be chosen (or none). */
export function reviewCandidates(scope: ScopeState, nowMs: number, options: CandidateOptions): { eligible: MemberName[]; problems: CandidateProblem[] } {
  const eligible: MemberName[] = [];
  const problems: CandidateProblem[] = [];
  for (const name of [...scope.members.keys()].sort()) {
    if (scope.lease?.holder === name) continue;
    const problem = candidateProblem(scope, name, nowMs, options);
    if (problem === null) eligible.push(name);
    else problems.push({ member: name, reason: problem });
  }
  return { eligible, problems };
}
