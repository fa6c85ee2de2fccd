/**
 * lineage.ts: the primary's ancestry from the recorded history, and whether a data directory is
 * on it — the check every start of a replica goes through (issue 14).
 */
import t from "tap";
import type { Lsn, MemberName, PrimaryChange } from "../../src/dcs/model.js";
import { ancestryOf, type LocalWal, lineageOf, localWal } from "../../src/ha/lineage.js";
import { pg } from "./fixtures.js";

const change = (timeline: number, parent: number | undefined, lsn: bigint, reason: PrimaryChange["reason"] = "failover"): PrimaryChange => ({
  timeline,
  ...(parent === undefined ? {} : { parent }),
  lsn: lsn as Lsn,
  atMs: 0,
  reason,
  newPrimary: "pg1" as MemberName,
});

/** 1 (bootstrap) → 2 at 500 → 3 at 900; 4 branched off 2 at 700 (a fork the primary is not on). */
const HISTORY = [change(1, undefined, 0n, "bootstrap"), change(2, 1, 500n), change(3, 2, 900n)];

const wal = (timeline: number, end: bigint, fields: Partial<LocalWal> = {}): LocalWal => ({ timeline, end: end as Lsn, exact: true, recordStart: false, running: false, timelineKnown: true, ...fields });

t.test("the ancestry follows recorded parents back to the bootstrap, and says when it cannot", async (t) => {
  t.same(ancestryOf(HISTORY, 3), { timeline: 3, ancestors: [{ timeline: 2, leftAt: 900n }, { timeline: 1, leftAt: 500n }], complete: true });
  t.same(ancestryOf([...HISTORY, change(5, 3, 1200n)], 5).ancestors.map((a) => a.timeline), [3, 2, 1], "a parent need not be the timeline before");
  t.same(ancestryOf([change(1, undefined, 0n, "bootstrap"), change(3, undefined, 900n)], 3), { timeline: 3, ancestors: [], complete: false }, "a record without its parent ends the walk");
  t.same(ancestryOf(HISTORY.slice(2), 3).complete, false, "a parent not recorded (history trimmed) ends it too");
  t.same(ancestryOf([change(3, 2, 900n, "bootstrap")], 3), { timeline: 3, ancestors: [], complete: true }, "the bootstrap is where the cluster's history starts");
  t.same(ancestryOf([], 1), { timeline: 1, ancestors: [], complete: true });
  t.same(ancestryOf([change(3, 3, 900n)], 3).complete, false, "a damaged record that names itself as its parent does not loop");
});

t.test("on the primary's history: its timeline, or an ancestor up to where the history left it", async (t) => {
  const ancestry = ancestryOf(HISTORY, 3);
  t.same(lineageOf(wal(3, 99_999n), ancestry), { kind: "onHistory" });
  t.same(lineageOf(wal(2, 900n), ancestry), { kind: "onHistory" }, "up to the fork itself");
  t.same(lineageOf(wal(1, 450n), ancestry), { kind: "onHistory" });
  t.match(lineageOf(wal(2, 901n), ancestry), { kind: "diverged", why: /left timeline 2 at 0\/384 and its WAL goes on to 0\/385/ });
  t.match(lineageOf(wal(1, 600n), ancestry), { kind: "diverged" });
  t.match(lineageOf(wal(4, 100n), ancestry), { kind: "diverged", why: /timeline 4 is newer than the primary's 3/ });
  t.match(lineageOf(wal(4, 100n), ancestryOf([...HISTORY, change(5, 3, 1200n)], 5)), { kind: "diverged", why: /timeline 4 is not on the primary's history \(5 ← 3 ← 2 ← 1\)/ });
  t.match(lineageOf(wal(1, 100n), ancestryOf(HISTORY.slice(2), 3)), { kind: "unknown", why: /not recorded back to timeline 1/ });
});

t.test("a shutdown checkpoint that starts before the fork ends at it; a lower bound of the end proves only divergence", async (t) => {
  const ancestry = ancestryOf(HISTORY, 3);
  t.same(lineageOf(wal(2, 899n, { recordStart: true }), ancestry), { kind: "onHistory" });
  t.match(lineageOf(wal(2, 900n, { recordStart: true }), ancestry), { kind: "diverged" });
  t.match(lineageOf(wal(2, 800n, { exact: false, recordStart: true }), ancestry), { kind: "unknown", why: /how far is not known/ });
  t.match(lineageOf(wal(2, 950n, { exact: false }), ancestry), { kind: "diverged" });
  t.match(lineageOf(wal(2, 950n, { running: true, timelineKnown: false }), ancestry), { kind: "unknown", why: /on that timeline or a later one/ }, "a running replica whose timeline is a lower bound may have switched past the fork");
  t.match(lineageOf(wal(2, 950n, { running: true }), ancestry), { kind: "diverged", why: /goes on to 0\/3B6 on that timeline/ }, "one whose replay timeline was read after its position is proven past it");
});

t.test("the local WAL from pg_controldata (stopped) or PostgreSQL (running replica)", async (t) => {
  const stopped = { process: "stopped" as const, streaming: false, walReceived: null, walReplayed: null };
  t.same(localWal(pg({ ...stopped, timeline: 2, controlState: "shut down", checkpointLsn: 800n as Lsn })), wal(2, 800n, { recordStart: true }));
  t.same(localWal(pg({ ...stopped, timeline: 2, controlState: "in production", checkpointLsn: 800n as Lsn })), wal(2, 800n, { recordStart: true, exact: false }), "a crashed primary");
  t.same(localWal(pg({ ...stopped, timeline: 2, controlState: "shut down in recovery", checkpointLsn: 800n as Lsn, minRecoveryLsn: 950n as Lsn, minRecoveryTimeline: 3 })), wal(3, 950n));
  t.same(localWal(pg({ ...stopped, timeline: 2, controlState: "in archive recovery", checkpointLsn: 800n as Lsn, minRecoveryLsn: 950n as Lsn, minRecoveryTimeline: 3 })), wal(3, 950n, { exact: false }), "a crashed replica replayed at least that far");
  t.same(localWal(pg({ ...stopped, timeline: 2, controlState: "shut down in recovery", checkpointLsn: 800n as Lsn })), wal(2, 800n, { exact: false }));
  t.same(localWal(pg({ timeline: 2, minRecoveryTimeline: 3, walReplayed: 990n as Lsn })), wal(3, 990n, { running: true, timelineKnown: false }));
  t.same(localWal(pg({ timeline: 2, replayTimeline: 2, minRecoveryTimeline: 3, walReplayed: 990n as Lsn })), wal(2, 990n, { running: true }), "the replay timeline, when read, is the timeline");
  t.equal(localWal(pg({ role: "primary" })), null, "a running primary is not judged here");
  t.equal(localWal(pg({ ...stopped, dataDir: "empty" })), null);
});
