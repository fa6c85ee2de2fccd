/**
 * The executor's pure steps (src/ha/executor): tables of what the local lease and the HA memory
 * become after each thing the HA loop learns, and what the fence and the watchdog do.
 */
import * as E from "fp-ts/lib/Either.js";
import t from "tap";
import type { DcsFailure, Executed } from "../../src/dcs/client.js";
import type { MemberName, PendingSwitchover } from "../../src/dcs/model.js";
import type { Lsn } from "../../src/dcs/model.js";
import { afterLeaseAnswer, expiredAt, fenceAct, fenceAtMs, RENEW_RETRY_MS, watchdogArming, writeFenceProblem } from "../../src/ha/executor/lease_keeping.js";
import type { ScopeView } from "../../src/dcs/views.js";
import { admitLongAction, spawnedAct } from "../../src/ha/executor/admission.js";
import { afterCommandAnswer, afterLongAction, afterObserved, afterPromotionCancelled, afterShortAction, afterUnexpectedExit } from "../../src/ha/executor/memory_updates.js";
import { decisionNote } from "../../src/ha/executor/note.js";
import { reinitSource, restartProgress, restartRefusal } from "../../src/ha/executor/operator_requests.js";
import { EMPTY_MEMORY, type LocalLease } from "../../src/ha/input.js";
import { START_LASTED_MS } from "../../src/ha/start_backoff.js";
import { SYNC_SETTLE_MS } from "../../src/ha/sync_planner.js";
import { Driver, input, m, pg, PRIMARY, SETTINGS, status } from "./fixtures.js";

const ME = "pg1" as MemberName;
const lease = (generation: number, sentAtMs: number): LocalLease => ({ generation, sentAtMs, deadlineMs: sentAtMs + SETTINGS.ttlMs });
const renew = { kind: "renewLease" as const, member: ME, ttlMs: SETTINGS.ttlMs, generation: 3 };
const acquire = { kind: "acquireLease" as const, member: ME, ttlMs: SETTINGS.ttlMs };
const release = { kind: "releaseLease" as const, member: ME, generation: 3 };
const granted = (kind: "leaseAcquired" | "leaseRenewed", generation: number): E.Either<DcsFailure, Executed> =>
  E.right({ index: 9, events: [{ kind, holder: ME, ttlMs: SETTINGS.ttlMs, expiresAtMs: 0, generation }] });
const failed = (code: DcsFailure["code"]): E.Either<DcsFailure, Executed> => E.left({ code, message: `it ${code}` } as DcsFailure);

t.test("the local lease after each answer to a lease command", async (t) => {
  const held = lease(3, 1_000);
  const rows: { what: string; before: LocalLease | null; command: typeof renew | typeof acquire | typeof release; result: E.Either<DcsFailure, Executed>; lease: LocalLease | null; retry: number | null; said: RegExp[] }[] = [
    { what: "an acquire granted starts a lease from when it was sent", before: null, command: acquire, result: granted("leaseAcquired", 4), lease: lease(4, 5_000), retry: null, said: [/this member holds the lease/] },
    { what: "a renewal granted moves the deadline, silently", before: held, command: renew, result: granted("leaseRenewed", 3), lease: lease(3, 5_000), retry: null, said: [] },
    { what: "a refused renewal ends the lease", before: held, command: renew, result: failed("leaseExpired" as DcsFailure["code"]), lease: null, retry: null, said: [/renewLease failed/, /no longer holds the lease/] },
    { what: "a renewal without an answer keeps the old deadline and retries soon", before: held, command: renew, result: failed("unavailable"), lease: held, retry: RENEW_RETRY_MS, said: [/renewLease failed/] },
    { what: "an unknown outcome is no answer either", before: held, command: renew, result: failed("outcomeUnknown"), lease: held, retry: RENEW_RETRY_MS, said: [/renewLease failed/] },
    { what: "an acquire without an answer and without a lease retries nothing", before: null, command: acquire, result: failed("unavailable"), lease: null, retry: null, said: [/acquireLease failed/] },
    { what: "a release granted ends the lease", before: held, command: release, result: E.right({ index: 9, events: [{ kind: "leaseReleased", holder: ME, generation: 3 }] }), lease: null, retry: null, said: [/no longer holds the lease/] },
  ];
  for (const row of rows) {
    const after = afterLeaseAnswer(row.before, row.command, row.result, 5_000, SETTINGS);
    t.same(after.lease, row.lease, `${row.what}: the lease`);
    t.equal(after.retryInMs, row.retry, `${row.what}: the retry`);
    t.equal(after.notes.length, row.said.length, `${row.what}: ${after.notes.map((n) => n.message).join(" | ")}`);
    row.said.forEach((pattern, i) => t.match(after.notes[i]?.message, pattern, `${row.what}: line ${i + 1}`));
  }
  const planted = afterLeaseAnswer(held, renew, failed("unavailable"), 5_000, SETTINGS, { renewWithoutAnswer: true });
  t.same(planted.lease, lease(3, 5_000), "the planted bug takes an unanswered renewal for a grant");
});

t.test("the fence: its time, what may take writes, what it does, and the watchdog's arming", async (t) => {
  const held = lease(3, 1_000);
  const fenceAt = held.deadlineMs - SETTINGS.watchdogMarginMs - SETTINGS.demoteLeadMs;
  t.equal(fenceAtMs(held, SETTINGS), fenceAt);
  t.equal(writeFenceProblem(held, SETTINGS, fenceAt - 1), null, "writes are safe until the fence time");
  t.match(writeFenceProblem(held, SETTINGS, fenceAt + 250), /safe time ran out 250 ms ago/);
  t.match(writeFenceProblem(null, SETTINGS, 0), /does not hold the lease/);
  t.equal(expiredAt(held, held.deadlineMs - 1), held, "a lease before its deadline is kept");
  t.equal(expiredAt(held, held.deadlineMs), null, "at its deadline it is none");

  const now = { lease: held, postmasterRunning: true, writable: true, busy: null };
  t.match(fenceAct(held, now), { kind: "stop", note: { message: /could not be renewed in time/ } }, "a primary stops at once");
  t.match(fenceAct(held, { ...now, busy: "promote" }), { kind: "kill", why: /during promote/ }, "during another action its group is killed");
  t.same(fenceAct(held, { ...now, writable: false }), { kind: "none" }, "a replica holding the lease may stay");
  t.same(fenceAct(held, { ...now, lease: lease(3, 2_000) }), { kind: "none" }, "a fence armed for an older grant does nothing");
  t.same(fenceAct(held, { ...now, postmasterRunning: false }), { kind: "none" }, "nothing runs: nothing to stop");

  t.same(watchdogArming(held, 4242, 2_000, SETTINGS), { kind: "arm", processGroup: 4242, deadlineMs: held.deadlineMs - SETTINGS.watchdogMarginMs, generation: 3 });
  t.same(watchdogArming(held, null, 2_000, SETTINGS), { kind: "disarm" }, "no postmaster: disarmed");
  t.same(watchdogArming(null, 4242, 2_000, SETTINGS), { kind: "disarm" }, "no lease: disarmed");
  t.same(watchdogArming(held, 4242, held.deadlineMs, SETTINGS), { kind: "disarm" }, "a lease past its deadline: disarmed");
});

t.test("the memory after observations", async (t) => {
  const replica = pg({ role: "replica", walReplayed: 100n as Lsn });
  const first = afterObserved(EMPTY_MEMORY, replica, 1_000);
  t.same(first.memory.replaySince, { lsn: 100n, sinceMs: 1_000 }, "a replica's replay position is remembered with its time");
  t.equal(afterObserved(first.memory, replica, 9_000).memory.replaySince?.sinceMs, 1_000, "unchanged replay keeps its first time");
  t.same(afterObserved(first.memory, pg({ role: "replica", walReplayed: 200n as Lsn }), 9_000).memory.replaySince, { lsn: 200n, sinceMs: 9_000 }, "replay moved");
  t.equal(afterObserved(first.memory, pg({ process: "stopped", role: null }), 9_000).memory.replaySince, null, "no replica, no replay");

  const crashed = { ...EMPTY_MEMORY, crashedAtMs: 500, handedOver: true };
  t.match(afterObserved(crashed, PRIMARY, 1_000).memory, { crashedAtMs: null, handedOver: false }, "running again clears the crash and the handover");

  const failing = { ...EMPTY_MEMORY, startFailure: { failures: 2, atMs: 0, reason: "bad", runningSinceMs: null } };
  const back = afterObserved(failing, PRIMARY, 3_000);
  t.equal(back.memory.startFailure?.runningSinceMs, 3_000, "running after failed starts is noted");
  t.match(back.notes, [{ level: "info", message: /runs again after failed starts/ }]);
  t.equal(afterObserved(back.memory, PRIMARY, 3_000 + START_LASTED_MS).memory.startFailure, null, "running long enough clears the failures");

  const settling = { ...EMPTY_MEMORY, syncApplied: { value: "x", atMs: 0, lsn: null } };
  t.equal(afterObserved(settling, PRIMARY, SYNC_SETTLE_MS - 1).memory.syncApplied?.lsn, null, "before it settled, no position");
  t.equal(afterObserved(settling, PRIMARY, SYNC_SETTLE_MS).memory.syncApplied?.lsn, PRIMARY.walWritten, "once settled, the primary's position");
});

t.test("the memory after an unexpected exit, a command's answer and a short action", async (t) => {
  const exit = { pid: 7, code: null, signal: "SIGKILL" };
  t.equal(afterUnexpectedExit(EMPTY_MEMORY, exit, true, 4_000).memory.crashedAtMs, 4_000, "a lease holder notes the crash");
  t.equal(afterUnexpectedExit(EMPTY_MEMORY, exit, false, 4_000).memory.crashedAtMs, null, "a replica does not");
  const justStarted = { ...EMPTY_MEMORY, startFailure: { failures: 1, atMs: 0, reason: "bad", runningSinceMs: 1_000 } };
  const again = afterUnexpectedExit(justStarted, exit, false, 2_000);
  t.equal(again.memory.startFailure?.failures, 2, "an exit soon after failed starts is one more");
  t.match(again.notes.map((n) => n.message), [/exited without being asked to/, /did not start \(failure 2 in a row.*exited \(SIGKILL\) 1 s after it started/]);

  const switchover: PendingSwitchover = { kind: "switchover", from: ME, to: "pg2" as MemberName, scheduledAtMs: null, requestedBy: "op", atMs: 0 };
  t.equal(afterCommandAnswer(EMPTY_MEMORY, ME, acquire, granted("leaseAcquired", 4), null).tookLeaseFor, "failover", "a lease taken without a request is a failover");
  t.equal(afterCommandAnswer(EMPTY_MEMORY, ME, acquire, granted("leaseAcquired", 4), { ...switchover, to: ME, from: "pg2" as MemberName }).tookLeaseFor, "switchover");
  t.equal(afterCommandAnswer(EMPTY_MEMORY, ME, release, E.right({ index: 1, events: [] }), switchover).handedOver, true, "giving the lease up for a request to another member is a handover");
  t.equal(afterCommandAnswer(EMPTY_MEMORY, ME, release, failed("unavailable"), switchover), EMPTY_MEMORY, "a failed command changes nothing");

  const names = afterShortAction(EMPTY_MEMORY, { kind: "setSyncStandbyNames", value: "FIRST 1 (pg2)" }, 6_000);
  t.same(names, { memory: { ...EMPTY_MEMORY, syncApplied: { value: "FIRST 1 (pg2)", atMs: 6_000, lsn: null } }, wake: true }, "new synchronous names: remembered, next step at once");
});

t.test("the memory and the rewind count after long actions", async (t) => {
  const ctx = { nowMs: 8_000, lease: null, rewindFailures: 0, view: null, standbyLeader: false };
  const source = { member: "pg2" as MemberName, connUrl: "postgresql://pg2" };
  const rewound = afterLongAction({ ...EMPTY_MEMORY, rewindFailure: "old" }, { kind: "rewind", source }, E.right(undefined), { ...ctx, rewindFailures: 1 });
  t.match(rewound, { memory: { rewindFailure: null, preparedFrom: "pg2" }, rewindFailures: 0 }, "a rewind that worked prepares the directory and clears the count");
  const impossible = afterLongAction(EMPTY_MEMORY, { kind: "rewind", source }, E.left({ code: "rewindImpossible", message: "different systems" }), ctx);
  t.match(impossible, { memory: { rewindFailure: "different systems", rewindFailedAgainst: "pg2" } }, "an impossible rewind lets decide() reinit");
  t.match(impossible.notes.map((n) => n.level), ["warn", "error"]);
  const interrupted = afterLongAction(EMPTY_MEMORY, { kind: "rewind", source }, E.left({ code: "sourceLost", message: "gone" }), ctx);
  t.match(interrupted, { memory: { rewindFailure: null }, rewindFailures: 0 }, "an interrupted rewind is retried and not counted");
  const start = afterLongAction({ ...EMPTY_MEMORY, preparedFrom: "pg2" as MemberName }, { kind: "start", as: "replica", upstream: null }, E.left({ code: "failed", message: "x\ny", serverErrors: ["FATAL: bad"] }), { ...ctx, lease: lease(1, 0) });
  t.match(start.memory, { preparedFrom: null, crashedAtMs: 8_000, startFailure: { failures: 1, reason: "FATAL: bad" } }, "a failed start uses the preparation up, counts, and a lease holder notes the crash");
  t.match(afterLongAction(EMPTY_MEMORY, { kind: "stop", mode: "fast" }, E.right(undefined), ctx).notes, [{ level: "info", message: "stop done" }]);
});

t.test("admission of long actions: one at a time, an immediate stop kills, no writes without a safe lease", async (t) => {
  const held = lease(3, 1_000);
  const safe = { busy: null, lease: held, nowMs: 2_000, settings: SETTINGS };
  t.same(admitLongAction({ kind: "promote" }, safe), { kind: "run" });
  t.same(admitLongAction({ kind: "start", as: "replica", upstream: null }, { ...safe, lease: null }), { kind: "run" }, "a replica needs no lease");
  t.match(admitLongAction({ kind: "promote" }, { ...safe, lease: null }), { kind: "refuse", note: { message: /^not promoting: this member does not hold the lease/ } });
  t.match(admitLongAction({ kind: "start", as: "primary", upstream: null }, { ...safe, nowMs: fenceAtMs(held, SETTINGS) }), { kind: "refuse", note: { message: /^not starting PostgreSQL as the primary: the lease's safe time ran out/ } });
  t.same(admitLongAction({ kind: "promote" }, { ...safe, busy: "start" }), { kind: "wait" }, "another action runs: wait");
  t.same(admitLongAction({ kind: "stop", mode: "immediate" }, { ...safe, busy: "promote" }), { kind: "kill", why: "stop requested during promote" });
  t.same(admitLongAction({ kind: "stop", mode: "fast" }, { ...safe, busy: "promote" }), { kind: "wait" });
});

t.test("operator requests: restart refusals, and where a reinit clones from", async (t) => {
  t.equal(restartRefusal(null, true, null, 0), null);
  t.equal(restartRefusal("rewind", true, null, 0), "cannot restart: rewind is in progress");
  t.equal(restartRefusal(null, false, null, 0), "cannot restart: PostgreSQL is not running");
  t.match(restartRefusal(null, false, { failures: 1, atMs: 0, reason: "FATAL: bad", runningSinceMs: null }, 0), /last start failed \(FATAL: bad\); the next start is in 1 s/);

  const d = new Driver();
  d.bootstrap();
  const view = (): ScopeView => input(d, "pg2").view!;
  const none = { fromLeader: false, from: null };
  t.same(reinitSource(view(), m("pg2"), null, none), E.right({ member: "pg1", connUrl: view().members.find((x) => x.name === "pg1")!.connUrl }), "the primary by default");
  t.same(reinitSource(view(), m("pg1"), null, none), E.left("cannot reinitialize: this member is the primary (it holds the lease)"));
  t.same(reinitSource(view(), m("pg2"), "start", none), E.left("cannot reinitialize: start is in progress"));
  t.match(reinitSource(view(), m("pg2"), null, { fromLeader: false, from: "pg9" }), E.left(/pg9: it is not a member \(members: pg1, pg2, pg3\)/));
  t.match(reinitSource(view(), m("pg2"), null, { fromLeader: false, from: "pg3" }), { _tag: "Right", right: { member: "pg3" } }, "a named running member");
  d.ok("pg3", { kind: "upsertMember", status: status("pg3", { tags: { ...status("pg3").tags, clonefrom: true } }) });
  t.match(reinitSource(view(), m("pg2"), null, none), { _tag: "Right", right: { member: "pg3" } }, "a running member tagged clonefrom before the primary");
  t.match(reinitSource(view(), m("pg2"), null, { fromLeader: true, from: null }), { _tag: "Right", right: { member: "pg1" } }, "from_leader: the primary");
  d.ok("pg1", { kind: "releaseLease", member: m("pg1"), generation: d.scope().lease!.generation });
  t.same(reinitSource(view(), m("pg2"), null, none), E.left("cannot reinitialize: the cluster has no primary to clone from"));
});

t.test("a spawned postmaster, a cancelled promotion, a restart's progress and the decision's line", async (t) => {
  const held = lease(3, 1_000);
  t.same(spawnedAct(true, held, 2_000, SETTINGS), { kind: "arm" }, "to be the primary under a safe lease: armed");
  t.match(spawnedAct(true, held, fenceAtMs(held, SETTINGS) + 10, SETTINGS), { kind: "kill", why: /^it would be the primary, but the lease's safe time ran out 10 ms ago/ });
  t.same(spawnedAct(false, null, 2_000, SETTINGS), { kind: "arm" }, "a replica is armed (or disarmed) as the lease says");

  const cancelled = afterPromotionCancelled(EMPTY_MEMORY, "pre_promote exited with 1", 3_000, SETTINGS.ttlMs);
  t.equal(cancelled.memory.promotionBlockedUntilMs, 3_000 + SETTINGS.ttlMs, "out of the race for a ttl");
  t.match(cancelled.notes, [{ level: "error", message: "not promoting: pre_promote exited with 1; releasing the lease" }]);

  const base = { busy: null, fresh: true, running: true, failure: null, sinceMs: 1_000, nowMs: 5_000 };
  t.same(restartProgress(base), { kind: "restarted" });
  t.same(restartProgress({ ...base, busy: "stop" }), { kind: "waiting" }, "the stop still runs");
  t.same(restartProgress({ ...base, fresh: false }), { kind: "waiting" }, "an observation from before the stop proves nothing");
  const failure = { failures: 1, atMs: 2_000, reason: "FATAL: bad", runningSinceMs: null };
  t.match(restartProgress({ ...base, running: false, failure }), { kind: "failed", why: /did not start again: FATAL: bad \(the next start is in 0 s\)/ });
  t.same(restartProgress({ ...base, running: false, failure: { ...failure, atMs: 500 } }), { kind: "waiting" }, "a failure from before the restart is not its outcome");

  t.equal(decisionNote({ reason: "same" }, { reason: "same", detail: "" }, [], false), null, "the same reason is not said again");
  t.same(decisionNote(null, { reason: "promoting", detail: "generation 2" }, ["promote"], false), { level: "info", message: "promoting: generation 2", fields: { detail: "generation 2", actions: ["promote"] } });
  t.equal(decisionNote(null, { reason: "x", detail: "" }, [], true)?.level, "error", "what only an operator can fix is an error");
});
