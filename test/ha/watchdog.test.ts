/**
 * The watchdog with real processes, the test process as the agent: re-arming keeps PostgreSQL's
 * (dummy) process group alive, a missed deadline kills the whole group on time, disarm and stop
 * kill nothing, a zombie counts as gone, and a missing watchdog device is refused at start.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { either as E } from "fp-ts";
import { DEFAULT_LOCAL_HA_SETTINGS } from "../../src/ha/settings.js";
import t, { type Test } from "tap";
import type { MemberName, Scope } from "../../src/dcs/model.js";
import { verifyFenceReport } from "../../src/ha/io/fence_report.js";
import { isProcessGroupGone, processGroupMembers, waitProcessGroupGone } from "../../src/ha/io/proc_group.js";
import { Watchdog, type WatchdogFired } from "../../src/ha/io/watchdog.js";
import { createRecordingLogger } from "../../src/lib/logger.js";
import { killGroup, killPid, nowNs, sleepMs, spawnGroup, startReportServer, waitFor, whenGroupGone } from "./fixtures/watchdog_support.js";

const SECRET = "watchdog-test-secret";
const REPORT = { scope: "orders" as Scope, member: "pg1" as MemberName, generation: 4 };
const MS = 1_000_000n;

async function startWatchdog(t: Test, reportTargets: readonly string[] = []): Promise<Watchdog> {
  const started = await Watchdog.start({ logger: createRecordingLogger(), secret: SECRET, reportTargets });
  if (E.isLeft(started)) throw new Error(started.left);
  const watchdog = started.right;
  t.teardown(async () => {
    await watchdog.stop();
    killPid(watchdog.pid);
  });
  return watchdog;
}

t.test("re-arming keeps the group alive; a missed deadline kills the whole group on time and is reported", async (t) => {
  const server = await startReportServer();
  t.teardown(server.close);
  const group = await spawnGroup();
  t.teardown(() => killGroup(group));
  const watchdog = await startWatchdog(t, [server.url]);
  const fired: WatchdogFired[] = [];
  watchdog.onFired((event) => fired.push(event));
  let deadlineNs = 0n;
  for (let i = 0; i < 12; i++) {
    deadlineNs = nowNs() + 300n * MS;
    t.ok(E.isRight(watchdog.arm({ processGroup: group, deadlineNs, report: REPORT })));
    await sleepMs(100);
  }
  t.equal(processGroupMembers(group).alive.length, 3, "1.2 s of re-arming every 100 ms (deadline 300 ms ahead): nothing killed");
  const goneNs = await whenGroupGone(group, 2_000);
  t.not(goneNs, null, "the group is gone once re-arming stops");
  const afterDeadlineMs = Number(goneNs! - deadlineNs) / 1e6;
  t.ok(afterDeadlineMs >= 0, `not killed before the deadline (${afterDeadlineMs.toFixed(1)} ms after it)`);
  // The deadline is the lease's minus the watchdog margin: gone within half of it, the lease has not run out.
  const boundMs = DEFAULT_LOCAL_HA_SETTINGS.watchdogMarginMs / 2;
  t.ok(afterDeadlineMs <= boundMs, `gone ${afterDeadlineMs.toFixed(1)} ms after the deadline (bound: ${boundMs} ms, half the watchdog margin)`);
  t.comment(`group gone ${afterDeadlineMs.toFixed(1)} ms after the deadline`);
  await waitFor(() => fired.length === 1 && server.reports.length === 1, 3_000, "onFired and the report");
  t.match(fired[0], { type: "fired", processGroup: group, reason: "deadline", confirmed: true });
  const verified = verifyFenceReport(server.reports[0]!.body, server.reports[0]!.signature, SECRET);
  t.ok(E.isRight(verified), "the report carries a valid signature");
  t.match(E.isRight(verified) ? verified.right : {}, { ...REPORT, processGroup: group, reason: "deadline" });
  t.equal(server.reports[0]!.url, "/internal/fenced");
});

t.test("disarm and stop kill nothing", async (t) => {
  const groups = [await spawnGroup(), await spawnGroup()];
  t.teardown(() => groups.forEach(killGroup));
  const watchdog = await startWatchdog(t);
  watchdog.arm({ processGroup: groups[0]!, deadlineNs: nowNs() + 200n * MS, report: REPORT });
  watchdog.disarm();
  const second = await startWatchdog(t);
  second.arm({ processGroup: groups[1]!, deadlineNs: nowNs() + 300n * MS, report: REPORT });
  const exit = await second.stop();
  t.match(exit, { code: 0, expected: true }, "stop() lets the process exit cleanly");
  await sleepMs(500);
  t.equal(processGroupMembers(groups[0]!).alive.length, 3, "disarmed before the deadline: alive");
  t.equal(processGroupMembers(groups[1]!).alive.length, 3, "stopped before the deadline: alive");
});

t.test("a zombie counts as gone: a SIGKILLed process whose stopped parent cannot reap it", async (t) => {
  // sh starts `sleep` as the leader of its own process group (setsid without a fork), then the
  // test stops sh: the killed sleep stays a zombie, the only member of its group.
  const parent = spawn("sh", ["-c", "setsid sleep 1000 & echo $!; wait"], { detached: true, stdio: ["ignore", "pipe", "ignore"] });
  t.teardown(() => {
    killGroup(parent.pid!);
    killPid(parent.pid!);
  });
  const sleepPid = await new Promise<number>((resolve) => parent.stdout.once("data", (chunk: Buffer) => resolve(Number(chunk.toString().trim()))));
  await waitFor(() => processGroupMembers(sleepPid).alive.length === 1, 2_000, "sleep to lead its own group");
  t.teardown(() => killGroup(sleepPid));
  process.kill(parent.pid!, "SIGSTOP");
  t.teardown(() => killPid(parent.pid!, "SIGCONT"));
  const watchdog = await startWatchdog(t);
  const fired: WatchdogFired[] = [];
  watchdog.onFired((event) => fired.push(event));
  watchdog.arm({ processGroup: sleepPid, deadlineNs: nowNs() + 50n * MS, report: REPORT });
  await waitFor(() => fired.length === 1, 3_000, "the watchdog to fire");
  t.match(fired[0], { confirmed: true, alive: [] }, "the watchdog confirmed the kill");
  t.same(processGroupMembers(sleepPid), { alive: [], zombies: [sleepPid] }, "the killed sleep is a zombie");
  t.ok(isProcessGroupGone(sleepPid));
  t.match(await waitProcessGroupGone(sleepPid, 100), { gone: true, zombies: [sleepPid] });
});

t.test("a missing or wrong watchdog device is refused at start with a clear message", async (t) => {
  const missing = await Watchdog.start({ logger: createRecordingLogger(), secret: SECRET, devicePath: "/nonexistent/watchdog" });
  t.match(E.isLeft(missing) ? missing.left : "started", /watchdog device \/nonexistent\/watchdog does not exist/);
  const dir = mkdtempSync(join(tmpdir(), "watchdog-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "file"), "");
  const regular = await Watchdog.start({ logger: createRecordingLogger(), secret: SECRET, devicePath: join(dir, "file") });
  t.match(E.isLeft(regular) ? regular.left : "started", /is not a character device/);
  const badTarget = await Watchdog.start({ logger: createRecordingLogger(), secret: SECRET, reportTargets: ["ftp://x"] });
  t.match(E.isLeft(badTarget) ? badTarget.left : "started", /must be http: or https:/);
});
