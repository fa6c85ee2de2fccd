import t from "tap";
import { LOOP_STALL_WARN_MS, LOOP_STALL_WINDOW_MS, LoopStallMeter } from "../../src/raft/runtime/loop_stall.js";

t.test("LoopStallMeter keeps the longest stall since start and over the last minute", async (t) => {
  const meter = new LoopStallMeter();
  t.equal(meter.maxMs(), 0);
  t.equal(meter.recentMaxMs(0), 0);
  meter.record(120.4, 1_000);
  meter.record(30, 5_000);
  t.equal(meter.maxMs(), 120);
  t.equal(meter.recentMaxMs(5_000), 120);
  meter.record(40, 15_000);
  t.equal(meter.recentMaxMs(59_999), 120, "still within the minute");
  t.equal(meter.recentMaxMs(1_000 + LOOP_STALL_WINDOW_MS), 40, "the 120 ms stall left the window; the 40 ms one did not");
  t.equal(meter.recentMaxMs(15_000 + 2 * LOOP_STALL_WINDOW_MS), 0, "nothing in the last minute");
  t.equal(meter.maxMs(), 120, "the maximum since start stays");
});

t.test("LoopStallMeter reuses its buckets as time goes on", async (t) => {
  const meter = new LoopStallMeter();
  meter.record(500, 3_000);
  for (let now = 10_000; now <= 600_000; now += 10_000) meter.record(now % 70_000 === 0 ? 90 : 10, now);
  t.equal(meter.maxMs(), 500);
  t.equal(meter.recentMaxMs(600_000), 90, "the 90 ms stall at 560 s is within the last minute");
  t.equal(meter.recentMaxMs(700_000), 0);
});

t.test("LoopStallMeter says which stalls deserve a warning", async (t) => {
  const meter = new LoopStallMeter();
  t.notOk(meter.record(LOOP_STALL_WARN_MS, 0), "exactly the threshold is not above it");
  t.ok(meter.record(LOOP_STALL_WARN_MS + 1, 0));
  t.throws(() => meter.record(-1, 0), /a stall is a duration/);
});
