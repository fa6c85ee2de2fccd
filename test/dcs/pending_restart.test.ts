/**
 * A member's pending restart in its report (issue 15): the wire form (a new variant, sent only
 * while a restart is pending, so a report without one is byte for byte what older versions write
 * and read), its bounds, the fold, snapshots with and without it (a snapshot of an older version
 * still loads), and the fitting of whatever PostgreSQL says into the bounds.
 */
import fc from "fast-check";
import { either as E } from "fp-ts";
import t from "tap";
import { commandProblem, PARAMETER_VALUE_CHARS_MAX, PENDING_RESTART_CHARS_MAX, PENDING_RESTART_PARAMETERS_MAX } from "../../src/dcs/command_bounds.js";
import { decodeCommand, encodeCommand } from "../../src/dcs/commands.js";
import { decodeEvents, encodeEvents } from "../../src/dcs/events.js";
import { DEFAULT_LIMITS, type PendingRestartParameter } from "../../src/dcs/model.js";
import { fitPendingRestart, pendingRestartReport } from "../../src/dcs/pending_restart.js";
import { decodeState, encodeState } from "../../src/dcs/snapshot.js";
import { Driver, m, rejected, SCOPE, status } from "./fixtures.js";
import { envelope } from "./wire.js";

const PENDING: PendingRestartParameter[] = [
  { name: "max_connections", oldValue: "100", newValue: "200" },
  { name: "shared_buffers", oldValue: "128MB", newValue: "256MB" },
];

/** upsertMember (variant 1) as version 0.1.0 writes it, byte by byte: no pending restart in it. */
function olderReport(name: string): Uint8Array {
  return envelope("main", name, 1)
    .string(name).string(`http://${name}:8008/patroni`).string(`postgres://${name}:5432/postgres`)
    .u8(1).u8(1).u32(1) // role replica, state streaming, timeline 1
    .u8(0).u8(1).u64(1000n).u8(1).u64(1000n) // walWritten none, walReceived and walReplayed 1000
    .bool(false).u32(1).bool(false).bool(false).bool(false).u8(0) // default tags
    .string("0.1.0")
    .bytes();
}

t.test("a report without a pending restart is the bytes older versions write, and theirs decode here", async (t) => {
  const mine = encodeCommand({ scope: SCOPE, author: "pg2", command: { kind: "upsertMember", status: status("pg2") } });
  t.same(Buffer.from(mine), Buffer.from(olderReport("pg2")), "same bytes as variant 1 of 0.1.0");
  const decoded = decodeCommand(olderReport("pg2"));
  t.ok(E.isRight(decoded), E.isLeft(decoded) ? decoded.left : "");
  if (E.isRight(decoded) && decoded.right.command.kind === "upsertMember") {
    t.same(decoded.right.command.status, status("pg2"));
    t.notOk("pendingRestart" in decoded.right.command.status, "no pending restart: the key is absent, not empty");
  }
  // An entry of the older version applies as it always did.
  const d = new Driver();
  t.equal(rejected(d.apply(olderReport("pg2"))), "accepted");
  t.notOk("pendingRestart" in d.scope().members.get(m("pg2"))!);
});

t.test("a pending restart survives the log and the fold; the next report without one clears it", async (t) => {
  const command = { kind: "upsertMember", status: status("pg2", { pendingRestart: PENDING }) } as const;
  const bytes = encodeCommand({ scope: SCOPE, author: "pg2", command });
  t.equal(bytes[1 + 4 + 4 + 4 + 3], 18, "its own variant (18), which older nodes refuse rather than misread");
  const decoded = decodeCommand(bytes);
  t.ok(E.isRight(decoded) && decoded.right.command.kind === "upsertMember");
  if (E.isRight(decoded) && decoded.right.command.kind === "upsertMember") t.same(decoded.right.command.status.pendingRestart, PENDING);
  const d = new Driver();
  d.bootstrap();
  d.ok("pg2", command);
  t.same(d.scope().members.get(m("pg2"))!.pendingRestart, PENDING);
  const events = encodeEvents([{ scope: SCOPE, atMs: 1, event: { kind: "memberUpdated", status: command.status } }]);
  const back = decodeEvents(events);
  t.ok(E.isRight(back) && back.right[0]!.event.kind === "memberUpdated" && JSON.stringify(back.right[0]!.event.status.pendingRestart) === JSON.stringify(PENDING), "exported events carry it");
  d.ok("pg2", { kind: "upsertMember", status: status("pg2") });
  t.notOk("pendingRestart" in d.scope().members.get(m("pg2"))!, "restarted: the record has none");
});

t.test("a pending restart out of its bounds is refused, naming the field and the limit", async (t) => {
  const refused = (pendingRestart: unknown, expected: RegExp, what: string): void => {
    const d = new Driver();
    t.match(rejected(d.run("pg2", { kind: "upsertMember", status: { ...status("pg2"), pendingRestart: pendingRestart as PendingRestartParameter[] } })), expected, what);
  };
  const p = (name: string, oldValue = "1", newValue = "2"): PendingRestartParameter => ({ name, oldValue, newValue });
  refused([], /^invalid: pendingRestart lists 0 parameters; a report lists 1 to 32 \(it is absent when no restart is pending\)/, "empty: absent instead");
  refused(Array.from({ length: PENDING_RESTART_PARAMETERS_MAX + 1 }, (_, i) => p(`p${String(i).padStart(2, "0")}`)), /pendingRestart lists 33 parameters/, "too many");
  refused([p("a".repeat(129))], /pendingRestart\[0\]\.name is 129 characters long, over the limit of 128/, "a long name");
  refused([p("work_mem", "1", "x".repeat(PARAMETER_VALUE_CHARS_MAX + 1))], /pendingRestart\[0\]\.newValue is 257 characters long, over the limit of 256/, "a long value");
  refused([p("work_mem", "a\nb")], /pendingRestart\[0\]\.oldValue holds a control character/, "a control character");
  refused([p("b"), p("a")], /pendingRestart names "a" after "b": the parameters go sorted by name, each once/, "unsorted");
  refused([p("a"), p("a")], /pendingRestart names "a" after "a"/, "twice");
  const wide = Array.from({ length: 20 }, (_, i) => p(`p${String(i).padStart(2, "0")}`, "x".repeat(200), "y".repeat(200)));
  refused(wide, new RegExp(`pendingRestart holds \\d+ characters of names and values, over the limit of ${PENDING_RESTART_CHARS_MAX}`), "too much in all");
  refused("max_connections", /pendingRestart must be a list of parameters/, "not a list");
});

t.test("fitPendingRestart fits whatever PostgreSQL says into the bounds, and keeps the flag", async (t) => {
  t.same(fitPendingRestart({}), [], "nothing pending: nothing");
  t.same(fitPendingRestart({ shared_buffers: { oldValue: "128MB", newValue: "256MB" }, max_connections: { oldValue: "100", newValue: "200" } }), PENDING, "small ones as they are, sorted");
  const long = fitPendingRestart({ shared_preload_libraries: { oldValue: "a\tb\nc", newValue: "x".repeat(1000) } })[0]!;
  t.equal(long.oldValue, "a b c", "control characters become spaces");
  t.equal(long.newValue.length, PARAMETER_VALUE_CHARS_MAX);
  t.ok(long.newValue.endsWith("…"), "a cut value ends in …");
  t.equal(fitPendingRestart({ x: { oldValue: "1", newValue: `${"a".repeat(254)}😀b` } })[0]!.newValue, `${"a".repeat(254)}…`, "never half a surrogate pair");
  t.same(fitPendingRestart({ "": { oldValue: "1", newValue: "2" } }), [{ name: "?", oldValue: "", newValue: "" }], "a restart pending under no name still says one is pending");
  t.same(Object.keys(pendingRestartReport(fitPendingRestart({ __proto__x: { oldValue: "1", newValue: "2" } }))), ["__proto__x"]);
  const entry = fc.record({ oldValue: fc.string({ maxLength: 600 }), newValue: fc.string({ unit: "binary", maxLength: 600 }) });
  fc.assert(
    fc.property(fc.dictionary(fc.string({ unit: "binary", maxLength: 200 }), entry, { maxKeys: 60 }), (report) => {
      const fittedList = fitPendingRestart(report);
      const command = { kind: "upsertMember", status: { ...status("pg2"), ...(fittedList.length === 0 ? {} : { pendingRestart: fittedList }) } };
      const problem = commandProblem(command);
      if (problem !== null) throw new Error(problem);
      if ((fittedList.length > 0) !== (Object.keys(report).length > 0)) throw new Error("the flag is not kept");
      const decoded = decodeCommand(encodeCommand({ scope: SCOPE, author: "pg2", command: command as never }));
      if (E.isLeft(decoded)) throw new Error(decoded.left);
    }),
    { numRuns: 300 },
  );
});

/** A snapshot as version 0.1.0 wrote it: members without pendingRestart, a scope without takeover. */
const OLDER_SNAPSHOT = JSON.stringify({
  format: 1,
  nowMs: 1_700_000_000_000,
  appliedIndex: 7,
  scopes: [{
    scope: "main",
    initialization: { by: "pg1", systemId: "7301234567890123456", atMs: 1_700_000_000_000 },
    lease: { holder: "pg1", acquiredAtMs: 1_700_000_000_000, renewedAtMs: 1_700_000_000_000, ttlMs: 30_000, expiresAtMs: 1_700_000_030_000, generation: 1 },
    leaseGeneration: 1,
    members: [{
      name: "pg1", apiUrl: "http://pg1:8008/patroni", connUrl: "postgres://pg1:5432/postgres", role: "primary", state: "running", timeline: 1,
      walWritten: { $bigint: "1000" }, walReceived: null, walReplayed: null,
      tags: { nofailover: false, failoverPriority: 1, nosync: false, noloadbalance: false, clonefrom: false, replicatefrom: null },
      agentVersion: "0.1.0", lastSeenMs: 1_700_000_000_000,
    }],
    config: { version: 0, value: {} },
    configHistory: [],
    primaryHistory: [],
    pending: null,
    sync: { version: 0, leader: null, standbys: [], quorum: 0 },
    paused: false,
    maintenance: [],
  }],
});

t.test("a snapshot of an older version loads; the field is written only while a restart is pending", async (t) => {
  const older = decodeState(new TextEncoder().encode(OLDER_SNAPSHOT), DEFAULT_LIMITS);
  t.ok(E.isRight(older), E.isLeft(older) ? older.left : "");
  if (E.isRight(older)) t.notOk("pendingRestart" in older.right.scopes.get(SCOPE)!.members.get(m("pg1"))!);
  const d = new Driver();
  t.ok(E.isRight(d.restore(new TextEncoder().encode(OLDER_SNAPSHOT))), "restored");
  d.ok("pg2", { kind: "upsertMember", status: status("pg2") });
  t.notOk(Buffer.from(d.machine.snapshot()).toString("utf8").includes("pendingRestart"), "no pending restart: no key, which older versions read");
  d.ok("pg2", { kind: "upsertMember", status: status("pg2", { pendingRestart: PENDING }) });
  const snapshot = d.machine.snapshot();
  const again = decodeState(snapshot, DEFAULT_LIMITS);
  t.ok(E.isRight(again));
  if (E.isRight(again)) {
    t.same(again.right.scopes.get(SCOPE)!.members.get(m("pg2"))!.pendingRestart, PENDING);
    t.equal(Buffer.from(encodeState(again.right)).toString("utf8"), Buffer.from(snapshot).toString("utf8"), "the same bytes again");
  }
  const bad = Buffer.from(snapshot).toString("utf8").replace('"max_connections"', '"x\\u0001"');
  const refused = decodeState(new TextEncoder().encode(bad), DEFAULT_LIMITS);
  t.match(E.isLeft(refused) ? refused.left : "", /members\[1\] \("pg2"\): pendingRestart\[0\]\.name holds a control character/, "checked like a command");
});
