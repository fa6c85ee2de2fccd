/**
 * The watchdog against a real agent process (test/ha/fixtures/watchdog_agent.ts): frozen with
 * SIGSTOP it cannot re-arm, and the group is still killed on time; killed while armed, the group
 * is killed at once and the fence reported with a valid signature; killed while disarmed, nothing
 * is killed and the watchdog process exits.
 */
import { either as E } from "fp-ts";
import { DEFAULT_LOCAL_HA_SETTINGS } from "../../src/ha/settings.js";
import t from "tap";
import { verifyFenceReport } from "../../src/ha/io/fence_report.js";
import { processGroupMembers } from "../../src/ha/io/proc_group.js";
import {
  isProcessGone,
  killGroup,
  killPid,
  nowNs,
  sleepMs,
  startFixtureAgent,
  startReportServer,
  waitFor,
  whenGroupGone,
} from "./fixtures/watchdog_support.js";

const SECRET = "watchdog-agent-test-secret";

/** Registers the cleanup of every process a fixture run starts, by PID. */
function cleanupOf(t: { teardown(fn: () => void): void }): (pid: number) => void {
  return (pid) => t.teardown(() => {
    killPid(pid, "SIGCONT");
    killPid(pid);
  });
}

t.test("a frozen agent (SIGSTOP) cannot save its primary: the group is killed on time, onFired once it resumes", async (t) => {
  const fixture = await startFixtureAgent({ mode: "armed", deadlineMs: 400, secret: SECRET, targets: [] }, cleanupOf(t));
  const { agentPid, watchdogPid, processGroup, deadlineNs } = fixture.info;
  t.teardown(() => {
    killGroup(processGroup);
    killPid(watchdogPid);
  });
  process.kill(agentPid, "SIGSTOP");
  t.ok(nowNs() < deadlineNs, "the agent is frozen before its deadline");
  t.equal(processGroupMembers(processGroup).alive.length, 3, "the dummy postmaster group runs");
  const goneNs = await whenGroupGone(processGroup, 2_000);
  t.not(goneNs, null, "the group is gone although the agent is frozen");
  const afterDeadlineMs = Number(goneNs! - deadlineNs) / 1e6;
  // The deadline is the lease's minus the watchdog margin: gone within half of it, the lease has not run out.
  const boundMs = DEFAULT_LOCAL_HA_SETTINGS.watchdogMarginMs / 2;
  t.ok(afterDeadlineMs >= 0 && afterDeadlineMs <= boundMs, `gone ${afterDeadlineMs.toFixed(1)} ms after the deadline (bound: 0–${boundMs} ms, half the watchdog margin)`);
  t.comment(`frozen agent: group gone ${afterDeadlineMs.toFixed(1)} ms after the deadline`);
  t.ok(processGroupMembers(processGroup).zombies.includes(processGroup), "the postmaster stays a zombie: its frozen parent cannot reap it");
  process.kill(agentPid, "SIGCONT");
  await waitFor(() => fixture.lines.length > 0, 3_000, "the resumed agent to hear that the watchdog fired");
  t.match(fixture.lines[0], { fired: { type: "fired", processGroup, reason: "deadline", confirmed: true } });
});

t.test("an agent killed while armed: the group is killed at once and the fence reported, signed", async (t) => {
  const server = await startReportServer();
  t.teardown(server.close);
  const fixture = await startFixtureAgent({ mode: "armed", deadlineMs: 10_000, secret: SECRET, targets: [server.url] }, cleanupOf(t));
  const { agentPid, watchdogPid, processGroup, deadlineNs } = fixture.info;
  t.teardown(() => {
    killGroup(processGroup);
    killPid(watchdogPid);
  });
  const killedNs = nowNs();
  process.kill(agentPid, "SIGKILL");
  const goneNs = await whenGroupGone(processGroup, 5_000);
  t.not(goneNs, null, "the group is gone");
  const afterDeathMs = Number(goneNs! - killedNs) / 1e6;
  // At once, not at the deadline 10 s away (a loaded machine may take some hundreds of ms).
  t.ok(afterDeathMs < 2_000, `gone ${afterDeathMs.toFixed(1)} ms after the agent's death (bound: 2 s, the deadline is 10 s away)`);
  t.ok(goneNs! < deadlineNs - 8_000_000_000n, "well before the 10 s deadline");
  t.comment(`agent killed: group gone ${afterDeathMs.toFixed(1)} ms later`);
  await waitFor(() => server.reports.length === 1, 3_000, "the fence report");
  const report = server.reports[0]!;
  const verified = verifyFenceReport(report.body, report.signature, SECRET);
  t.ok(E.isRight(verified), "the signature verifies with the shared secret");
  t.match(E.isRight(verified) ? verified.right : {}, { scope: "orders", member: "pg1", generation: 7, processGroup, reason: "agent exited" });
  t.ok(E.isLeft(verifyFenceReport(report.body, report.signature, "another secret")), "not with another secret");
  await waitFor(() => isProcessGone(watchdogPid), 3_000, "the watchdog process to exit");
});

t.test("an agent killed while disarmed: nothing is killed and the watchdog process exits", async (t) => {
  const fixture = await startFixtureAgent({ mode: "idle", deadlineMs: 0, secret: SECRET, targets: [] }, cleanupOf(t));
  const { agentPid, watchdogPid, processGroup } = fixture.info;
  t.teardown(() => {
    killGroup(processGroup);
    killPid(watchdogPid);
  });
  process.kill(agentPid, "SIGKILL");
  await waitFor(() => isProcessGone(watchdogPid), 3_000, "the watchdog process to exit");
  await sleepMs(200);
  t.equal(processGroupMembers(processGroup).alive.length, 3, "the dummy postmaster group still runs");
});
