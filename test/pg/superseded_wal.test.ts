/**
 * superseded_wal.ts: which WAL copies of earlier timelines a primary never reads, and the pruner on
 * a real directory (a pg_wal laid out as after two promotions in one segment).
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { supersededWalFiles, SupersededWalPruner, timelineStarts } from "../../src/pg/superseded_wal.js";
import { createRecordingLogger, type LoggedLine } from "../../src/lib/logger.js";
import { pg } from "../ha/fixtures.js";

const SEGMENT = 16 * 1024 * 1024;
// Timeline 2 began at 0/3000060 and timeline 3 at 0/30000D8: both in segment 3.
const HISTORY_3 = "1\t0/3000060\tno recovery target specified\n\n2\t0/30000D8\tno recovery target specified\n";

t.test("a history file gives each timeline where it began; anything else is refused", async (t) => {
  t.same(timelineStarts(HISTORY_3, 3), [
    { timeline: 1, beginLsn: 0n },
    { timeline: 2, beginLsn: 0x3000060n },
    { timeline: 3, beginLsn: 0x30000d8n },
  ]);
  t.equal(timelineStarts("not a history", 3), null);
  t.equal(timelineStarts("1\t0/3000060\tx\n", 1), null, "the current timeline comes after its ancestors");
  t.equal(timelineStarts("2\t0/3000060\tx\n1\t0/4000000\tx\n", 3), null, "ancestors in order");
  t.equal(timelineStarts("1\t0/5000000\tx\n2\t0/3000000\tx\n", 3), null, "switch points in order");
});

t.test("the copies PostgreSQL never reads: another timeline's copy of a segment whose read copy is there", async (t) => {
  const starts = timelineStarts(HISTORY_3, 3)!;
  const names = [
    "000000010000000000000001",
    "000000010000000000000002",
    "000000010000000000000003",
    "000000010000000000000003.partial",
    "000000020000000000000003",
    "000000030000000000000003",
    "000000030000000000000004",
    "00000002.history",
    "00000003.history",
    "archive_status",
  ];
  t.same(supersededWalFiles(names, starts, SEGMENT), ["000000010000000000000003", "000000010000000000000003.partial", "000000020000000000000003"]);
  t.same(supersededWalFiles(names.filter((n) => n !== "000000030000000000000003"), starts, SEGMENT), [], "nothing goes while the copy that is read is missing");
  const across = timelineStarts("1\t1/5000000\tx\n", 2)!;
  t.same(supersededWalFiles(["000000010000000100000004", "000000010000000100000005", "000000020000000100000005", "000000020000000100000006"], across, SEGMENT), ["000000010000000100000005"], "segment numbers past the first 4 GiB");
  t.same(supersededWalFiles(names, [{ timeline: 1, beginLsn: 0n }], SEGMENT), [], "timeline 1 has nothing to supersede");
});

t.test("the pruner removes them from a primary's pg_wal once its checkpoint is on its timeline, keeps what waits to be archived, and says so", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "raftgres-superseded-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const wal = join(dir, "pg_wal");
  await mkdir(join(wal, "archive_status"), { recursive: true });
  const files = ["000000010000000000000002", "000000010000000000000003", "000000020000000000000003", "000000030000000000000003"];
  for (const name of files) await writeFile(join(wal, name), Buffer.alloc(1024));
  await writeFile(join(wal, "00000003.history"), HISTORY_3);
  await writeFile(join(wal, "archive_status", "000000020000000000000003.ready"), "");
  const lines: LoggedLine[] = [];
  const pruner = new SupersededWalPruner(dir, () => Promise.resolve(SEGMENT), createRecordingLogger(lines));
  const primary = pg({ role: "primary", timeline: 3, walReceived: null, walReplayed: null, upstream: null, streaming: false });
  await pruner.consider(pg({ timeline: 3 }), 3, 0);
  await pruner.consider(primary, 2, 0);
  t.equal((await readdir(wal)).length, 6, "a replica, or a primary whose checkpoint is still on its parent's timeline, removes nothing");
  await pruner.consider(primary, 3, 0);
  t.same((await readdir(wal)).sort(), ["000000010000000000000002", "000000020000000000000003", "00000003.history", "000000030000000000000003", "archive_status"]);
  t.match(lines.map((l) => l.message), [/^removed 1 WAL segment copies of earlier timelines that timeline 3 supersedes/]);
  await writeFile(join(wal, "000000010000000000000003"), "");
  await pruner.consider(primary, 3, 1000);
  t.equal((await readdir(wal)).length, 6, "it looks again only a minute later");
  await pruner.consider(primary, 3, 61_000);
  t.equal((await readdir(wal)).length, 5);
});
