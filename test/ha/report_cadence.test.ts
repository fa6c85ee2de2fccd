/** reportDue(): a member's report goes into the log when it says something new, or to stay seen. */
import t from "tap";
import { DEFAULT_TAGS, type Lsn, type MemberName, type MemberStatus } from "../../src/dcs/model.js";
import { reportDue, reportKey } from "../../src/ha/report_cadence.js";

const TIMING = { loopWaitMs: 1000, ttlMs: 5000 };

function status(overrides: Partial<MemberStatus> = {}): MemberStatus {
  return {
    name: "pg2" as MemberName,
    apiUrl: "http://127.0.0.1:8009",
    connUrl: "postgresql://127.0.0.1:5433/postgres",
    role: "replica",
    state: "streaming",
    timeline: 1,
    walWritten: null,
    walReceived: 1000n as Lsn,
    walReplayed: 1000n as Lsn,
    tags: DEFAULT_TAGS,
    agentVersion: "0.1.0",
    ...overrides,
  };
}

t.test("an unchanged report goes out once per ttl/3 to stay seen, not every cycle", async (t) => {
  const next = reportKey(status(), "held");
  const last = { ...next, atMs: 0 };
  t.notOk(reportDue(last, next, 100, TIMING, false), "right after it was sent");
  t.notOk(reportDue(last, next, 1500, TIMING, false), "after a loop_wait, with nothing new");
  t.ok(reportDue(last, next, 1667, TIMING, false), "after ttl/3: a keepalive");
  t.ok(reportDue(null, next, 0, TIMING, false), "the first report");
});

t.test("a change goes out at once; new WAL positions at most once per loop_wait", async (t) => {
  const last = { ...reportKey(status(), "held"), atMs: 0 };
  t.ok(reportDue(last, reportKey(status({ state: "running" }), "held"), 10, TIMING, false), "a new state at once");
  t.ok(reportDue(last, reportKey(status({ tags: { ...DEFAULT_TAGS, nosync: true } }), "held"), 10, TIMING, false), "new tags at once");
  t.ok(reportDue(last, reportKey(status(), "gone@3"), 10, TIMING, true), "the lease gone at once");
  const moved = reportKey(status({ walReceived: 2000n as Lsn, walReplayed: 2000n as Lsn }), "held");
  t.notOk(reportDue(last, moved, 500, TIMING, false), "new WAL positions within a loop_wait: not yet");
  t.ok(reportDue(last, moved, 1000, TIMING, false), "new WAL positions a loop_wait later");
});

t.test("while no member holds the lease, positions go out every loop_wait for the race", async (t) => {
  const next = reportKey(status(), "gone@3");
  const last = { ...next, atMs: 0 };
  t.notOk(reportDue(last, next, 900, TIMING, true));
  t.ok(reportDue(last, next, 1000, TIMING, true));
});

t.test("a pending restart goes out at once when it appears, changes or clears, and adds no report otherwise", async (t) => {
  const pendingRestart = [{ name: "max_connections", oldValue: "100", newValue: "200" }];
  const last = { ...reportKey(status(), "held"), atMs: 0 };
  const pending = reportKey(status({ pendingRestart }), "held");
  t.ok(reportDue(last, pending, 10, TIMING, false), "a restart now pending: at once");
  const sent = { ...pending, atMs: 10 };
  t.notOk(reportDue(sent, reportKey(status({ pendingRestart }), "held"), 1500, TIMING, false), "the same pending restart: nothing new within ttl/3");
  t.ok(reportDue(sent, reportKey(status({ pendingRestart: [{ ...pendingRestart[0]!, newValue: "300" }] }), "held"), 20, TIMING, false), "a new reason: at once");
  t.ok(reportDue(sent, reportKey(status(), "held"), 20, TIMING, false), "restarted, nothing pending: at once");
});
