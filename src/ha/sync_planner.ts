/**
 * The primary's synchronous replication state machine (Patroni's §N, reworked around one
 * claim): the SyncState (leader, standbys S, quorum k) in the cluster state says every commit
 * this primary acknowledged is on at least k members of S (src/dcs/sync_mode.ts). Each cycle
 * makes at most one step towards what the config asks, in an order that keeps the claim true:
 *
 * 1. synchronous_standby_names goes from (P, j) to (P', j') only once the claim holds for
 *    commits acknowledged under either: S ⊇ the members of P' that count, k small enough. If it
 *    does not, the state first widens to S ∪ P ∪ P' with min(k, j, j') — true for both;
 * 2. the state narrows to exactly (P', j') only after the new setting has settled (every
 *    walsender reloaded) and j' of P' have flushed past the WAL position seen after it did, so
 *    they hold every commit acknowledged before as well.
 *
 * A dead standby leaves synchronous_standby_names on the next cycle (it is no longer streaming);
 * non-strict mode goes asynchronous when no standby streams and says so; strict mode keeps the
 * standbys it had (or placeholders) listed so commits wait. Pure.
 */
import type { Command } from "../dcs/commands.js";
import type { MemberName, SyncState } from "../dcs/model.js";
import { type SyncMode, syncModeOf } from "../dcs/sync_mode.js";
import type { ScopeView } from "../dcs/views.js";
import type { Action } from "./actions.js";
import { dcs } from "./facts.js";
import type { HaInput } from "./input.js";
import { ASYNC, coverage, formatSyncNames, parseSyncNames, placeholder, realNames, sameSyncNames, type SyncKind, type SyncNames } from "./sync_names.js";

/** A new synchronous_standby_names counts as in force everywhere (all walsenders reloaded) after this. */
export const SYNC_SETTLE_MS = 1000;

function setNames(value: string | null): Action {
  return { kind: "setSyncStandbyNames", value };
}

function claim(view: ScopeView, me: MemberName, standbys: readonly string[], quorum: number): Action {
  const known = new Set(view.members.map((m) => m.name as string));
  const listed = [...new Set(standbys)].filter((n) => n !== me && known.has(n)).sort() as MemberName[];
  const command: Command = { kind: "setSyncState", expectedVersion: view.sync.version, leader: me, standbys: listed, quorum: Math.min(quorum, listed.length) };
  return dcs(command);
}

/** The claim holds for commits acknowledged under `names` too. */
function claimCovers(sync: SyncState, names: SyncNames): boolean {
  const cover = coverage(names);
  if (cover === Number.POSITIVE_INFINITY) return true;
  const outside = realNames(names).filter((n) => !sync.standbys.includes(n as MemberName)).length;
  return Math.max(0, cover - outside) >= sync.quorum;
}

/** Replicas streaming from this primary that may confirm commits. */
function eligibleStandbys(input: HaInput): MemberName[] {
  const view = input.view!;
  return input.pg.senders
    .filter((s) => s.state === "streaming")
    .map((s) => view.members.find((m) => m.name === s.name))
    .filter((m) => m !== undefined && m.name !== input.me && !m.gone && !m.maintenance && !m.tags.nosync && m.role !== "witness")
    .map((m) => m!.name);
}

/** What synchronous_standby_names should be now. */
export function desiredSyncNames(input: HaInput, mode: SyncMode, current: SyncNames): SyncNames {
  const kind: SyncKind = mode.mode === "quorum" ? "quorum" : "priority";
  const view = input.view!;
  const before = realNames(current);
  const eligible = eligibleStandbys(input);
  let chosen: string[];
  if (kind === "priority") {
    const nofailover = (n: string): boolean => view.members.find((m) => m.name === n)?.tags.nofailover === true;
    // Standbys already synchronous stay; then those that could be promoted; then by name.
    const rank = (n: string): [number, number, string] => [before.includes(n) ? 0 : 1, nofailover(n) ? 1 : 0, n];
    chosen = [...eligible].sort((a, b) => compareRank(rank(a), rank(b))).slice(0, mode.nodeCount);
  } else {
    chosen = [...eligible].sort();
  }
  const count = kind === "priority" ? chosen.length : Math.min(mode.nodeCount, chosen.length);
  if (!mode.strict) return count === 0 ? ASYNC : { kind, count, names: chosen };
  const target = Math.max(mode.minimum, count);
  const names = [...chosen];
  for (const old of before) if (names.length < target && !names.includes(old)) names.push(old);
  for (let i = 0; names.length < target; i += 1) names.push(placeholder(i));
  return { kind, count: target, names };
}

function compareRank(a: [number, number, string], b: [number, number, string]): number {
  if (a[0] !== b[0]) return a[0] - b[0];
  if (a[1] !== b[1]) return a[1] - b[1];
  return a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0;
}

/** One step for the running primary that holds the lease (empty when nothing is to be done). */
export function syncActions(input: HaInput): Action[] {
  const view = input.view;
  if (view === null || input.pg.role !== "primary") return [];
  const mode = syncModeOf(view.config);
  const applied = input.memory.syncApplied;
  if (mode.mode === "off") {
    if (applied === null || applied.value !== null) return [setNames(null)];
    // Nothing claimed and no leader recorded (Patroni deletes /sync): with a leader and k = 0 the
    // state would say the last primary's commits are on it alone, holding every failover back.
    if (view.sync.leader !== null || view.sync.quorum !== 0 || view.sync.standbys.length > 0) {
      return [dcs({ kind: "setSyncState", expectedVersion: view.sync.version, leader: null, standbys: [], quorum: 0 })];
    }
    return [];
  }
  const current = parseSyncNames(input.pg.syncStandbyNames) ?? ASYNC;
  // Adopt what PostgreSQL runs with (after an agent restart, or from the node's own parameters).
  if (applied === null || applied.value !== formatSyncNames(current)) return [setNames(formatSyncNames(current))];
  const sync = view.sync;
  if (sync.leader !== input.me) return [claim(view, input.me, realNames(current), Math.min(current.count, realNames(current).length))];
  const desired = desiredSyncNames(input, mode, current);
  if (!sameSyncNames(desired, current)) {
    if (claimCovers(sync, desired)) return [setNames(formatSyncNames(desired))];
    return [claim(view, input.me, [...sync.standbys, ...realNames(current), ...realNames(desired)], Math.min(sync.quorum, coverage(current), coverage(desired)))];
  }
  // Narrow the claim to what runs, once the standbys hold everything acknowledged before.
  const real = realNames(current);
  if (coverage(current) === Number.POSITIVE_INFINITY) return [];
  const exact = sync.quorum === current.count && sync.standbys.length === real.length && real.every((n) => sync.standbys.includes(n as MemberName));
  if (exact || applied.lsn === null) return [];
  const lsn = applied.lsn;
  const caughtUp = input.pg.senders.filter((s) => real.includes(s.name) && s.state === "streaming" && s.flushLsn !== null && s.flushLsn >= lsn).length;
  return caughtUp >= current.count ? [claim(view, input.me, real, current.count)] : [];
}

/**
 * Before a replica holding the lease is promoted: synchronous_standby_names set for its first
 * commits (strict: the standbys of the last primary, or placeholders; otherwise asynchronous
 * until standbys stream from it), then the claim taken over. Null when the promotion may go on.
 */
export function prePromoteSyncActions(input: HaInput): Action[] | null {
  const view = input.view;
  if (view === null) return null;
  const mode = syncModeOf(view.config);
  const applied = input.memory.syncApplied;
  if (mode.mode === "off") return applied === null || applied.value !== null ? [setNames(null)] : null;
  const old = view.sync;
  const known = new Set(view.members.map((m) => m.name as string));
  const inheritedStandbys = old.leader === null ? [] : old.standbys.filter((n) => n !== input.me && known.has(n));
  let initial: SyncNames = ASYNC;
  if (mode.strict) {
    const kind: SyncKind = mode.mode === "quorum" ? "quorum" : "priority";
    const count = Math.max(mode.minimum, Math.min(mode.nodeCount, inheritedStandbys.length));
    const names: string[] = [...inheritedStandbys];
    for (let i = 0; names.length < count; i += 1) names.push(placeholder(i));
    initial = { kind, count, names };
  }
  const value = formatSyncNames(initial);
  if (input.pg.syncStandbyNames !== value || applied === null || applied.value !== value) return [setNames(value)];
  if (old.leader === input.me) return null;
  // Commits of the last primary are on k of its standbys; this member may have been one of them.
  const inherited = old.leader === null ? 0 : Math.max(0, old.quorum - (old.standbys.includes(input.me) ? 1 : 0));
  return [claim(view, input.me, [...inheritedStandbys, ...realNames(initial)], Math.min(inherited, coverage(initial)))];
}
