import { isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import { either as E } from "fp-ts";
import t from "tap";
import { type Command, decodeCommand, encodeCommand } from "../../src/dcs/commands.js";
import { decodeEvents, encodeEvents, type Recorded } from "../../src/dcs/events.js";
import type { Lsn, Scope } from "../../src/dcs/model.js";
import { m, status } from "./fixtures.js";
import { BorshWriter, nestedJsonText, rawAcquireLease, rawRemoveMember, rawRenewLease, rawScheduledSwitchover, rawSetConfig, rawSetSyncState } from "./wire.js";

const scope = "main" as Scope;
const every: Command[] = [
  { kind: "initializeCluster", member: m("pg1"), systemId: "7301234567890123456" },
  { kind: "upsertMember", status: status("pg2", { walReceived: 123456789012345n as Lsn, tags: { nofailover: true, failoverPriority: 3, nosync: true, noloadbalance: false, clonefrom: true, replicatefrom: m("pg1") } }) },
  { kind: "upsertMember", status: status("pg3", { pendingRestart: [{ name: "max_connections", oldValue: "100", newValue: "200" }] }) },
  { kind: "removeMember", name: m("pg3") },
  { kind: "acquireLease", member: m("pg1"), ttlMs: 30_000 },
  { kind: "renewLease", member: m("pg1"), ttlMs: 30_000, generation: 12 },
  { kind: "releaseLease", member: m("pg1"), generation: 12 },
  { kind: "fenceLease", holder: m("pg1"), generation: 12, reason: "the watchdog of pg1 killed its PostgreSQL: agent exited" },
  { kind: "setConfig", expectedVersion: 4, mode: "patch", value: { ttl: 20, postgresql: { parameters: { work_mem: null } } } },
  { kind: "setConfig", expectedVersion: null, mode: "replace", value: {} },
  { kind: "requestSwitchover", from: m("pg1"), to: null, scheduledAtMs: 1_800_000_000_000 },
  { kind: "requestFailover", to: m("pg2"), allowDataLoss: false },
  { kind: "requestFailover", to: m("pg3"), allowDataLoss: true },
  { kind: "cancelSwitchover" },
  { kind: "setSyncState", expectedVersion: 2, leader: m("pg1"), standbys: [m("pg2"), m("pg3")], quorum: 1 },
  { kind: "recordTimeline", timeline: 3, lsn: 50_331_808n as Lsn, reason: "switchover", newPrimary: m("pg2") },
  { kind: "recordTimeline", timeline: 4, parent: 2, lsn: 50_331_808n as Lsn, reason: "failover", newPrimary: m("pg3") },
  { kind: "setPause", paused: true },
  { kind: "setMaintenance", member: m("pg2"), on: false },
  { kind: "removeScope" },
];

t.test("every command survives its borsh encoding", async (t) => {
  for (const command of every) {
    const decoded = decodeCommand(encodeCommand({ scope, author: "api:alice", command }));
    t.ok(E.isRight(decoded) && isDeepStrictEqual(decoded.right, { scope, author: "api:alice", command }), command.kind);
  }
});

t.test("the test's borsh writer writes what encodeCommand writes", async (t) => {
  const same = (raw: Uint8Array, command: Command, author: string, what: string): void => {
    t.same(Buffer.from(raw), Buffer.from(encodeCommand({ scope, author, command })), what);
  };
  same(rawSetConfig('{"ttl":20}', { expectedVersion: 3 }), { kind: "setConfig", expectedVersion: 3, mode: "patch", value: { ttl: 20 } }, "api:mallory", "setConfig");
  same(rawSetConfig("{}", { replace: true }), { kind: "setConfig", expectedVersion: null, mode: "replace", value: {} }, "api:mallory", "setConfig replace");
  same(rawAcquireLease("pg1", 30_000), { kind: "acquireLease", member: m("pg1"), ttlMs: 30_000 }, "pg1", "acquireLease");
  same(rawRenewLease("pg1", 30_000, 7), { kind: "renewLease", member: m("pg1"), ttlMs: 30_000, generation: 7 }, "pg1", "renewLease");
  same(rawRemoveMember("pg3"), { kind: "removeMember", name: m("pg3") }, "api:mallory", "removeMember");
  same(rawSetSyncState("pg1", ["pg2", "pg3"], 1), { kind: "setSyncState", expectedVersion: null, leader: m("pg1"), standbys: [m("pg2"), m("pg3")], quorum: 1 }, "pg1", "setSyncState");
  same(rawScheduledSwitchover(1_800_000_000_000), { kind: "requestSwitchover", from: null, to: null, scheduledAtMs: 1_800_000_000_000 }, "api:mallory", "requestSwitchover");
});

t.test("bad names and truncated bytes are refused with a reason", async (t) => {
  const bytes = rawRemoveMember("bad name!");
  const decoded = decodeCommand(bytes);
  t.ok(E.isLeft(decoded) && decoded.left.includes("is not a valid name"), E.isLeft(decoded) ? decoded.left : "decoded");
  const good = encodeCommand({ scope, author: "x", command: every[1]! });
  t.ok(E.isLeft(decodeCommand(good.subarray(0, good.length - 3))), "truncated");
});

t.test("events survive their borsh encoding", async (t) => {
  const events: Recorded[] = [
    { scope, atMs: 1, event: { kind: "leaseAcquired", holder: m("pg1"), ttlMs: 30_000, expiresAtMs: 31_000, generation: 1 } },
    { scope, atMs: 2, event: { kind: "leaseReleased", holder: m("pg1"), generation: 1 } },
    { scope, atMs: 3, event: { kind: "memberUpdated", status: status("5n", { walReceived: 99n as Lsn }) } },
    { scope, atMs: 4, event: { kind: "configChanged", version: 2, config: { ttl: 20 }, patch: { ttl: 20, a: null }, author: "api:bob" } },
    { scope, atMs: 5, event: { kind: "timelineRecorded", change: { timeline: 2, lsn: 77n as Lsn, atMs: 5, reason: "failover", newPrimary: m("pg2") } } },
    { scope, atMs: 6, event: { kind: "switchoverRequested", pending: { kind: "switchover", from: m("pg1"), to: null, scheduledAtMs: null, requestedBy: "api:x", atMs: 6 } } },
    { scope, atMs: 7, event: { kind: "syncStateChanged", sync: { version: 1, leader: m("pg1"), standbys: [m("pg2")], quorum: 0 } } },
  ];
  const decoded = decodeEvents(encodeEvents(events));
  t.ok(E.isRight(decoded) && isDeepStrictEqual(decoded.right, events), "round trip, including a member named like a bigint");
});

t.test("decodeEvents answers hostile bytes with a Left, never a throw or a malformed event", async (t) => {
  const list = (kind: string, json: string, scopeName = "main"): Uint8Array => new BorshWriter().u32(1).string(scopeName).f64(1).u8(0).string(kind).string(json).u8(0).bytes();
  t.ok(E.isRight(decodeEvents(list("pauseChanged", '{"paused":true,"by":"api"}'))), "the writer writes a valid list");
  const refused: [string, Uint8Array, RegExp][] = [
    ["an unknown kind", list("dropEverything", "{}"), /unknown event "dropEverything"/],
    ["a payload with its own kind", list("pauseChanged", '{"kind":"leaseAcquired","paused":true}'), /not an object of its fields/],
    ["a payload nested 100,000 deep", list("pauseChanged", `{"by":${nestedJsonText(100_000)}}`), /nested 65 levels deep/],
    ["a payload that is a list", list("pauseChanged", "[]"), /not an object of its fields/],
    ["a config event without a version", list("configChanged", '{"config":{},"patch":{},"author":"a"}'), /needs a version/],
    ["a bad scope", list("pauseChanged", '{"paused":true,"by":"api"}', "bad scope"), /scope "bad scope" is not a valid name/],
    ["a lease event of an unknown kind", new BorshWriter().u32(1).string("main").f64(1).u8(1).string("leaseStolen").string("pg1").u32(1).f64(1).f64(1).u8(0).bytes(), /unknown lease event/],
  ];
  for (const [what, bytes, expected] of refused) {
    const decoded = decodeEvents(bytes);
    t.ok(E.isLeft(decoded) && expected.test(decoded.left), `${what}: ${E.isLeft(decoded) ? decoded.left.slice(0, 120) : "decoded"}`);
  }
  // Mostly a small event count first: a random one is in the billions, which borsh refuses only
  // after allocating up to 1 Mi slots (tens of ms each).
  const count = fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 0, max: 3 }) }, { weight: 1, arbitrary: fc.nat() });
  fc.assert(fc.property(count, fc.uint8Array({ maxLength: 200 }), (n, rest) => {
    const decoded = decodeEvents(new Uint8Array(Buffer.concat([new BorshWriter().u32(n).bytes(), rest])));
    return E.isLeft(decoded) || Array.isArray(decoded.right);
  }), { seed: 1202, numRuns: 1000 });
  const config = decodeEvents(list("configChanged", '{"author":"a","config":{"x":{"$bigint":"5"}},"patch":{},"version":2}'));
  t.ok(E.isRight(config) && config.right[0]!.event.kind === "configChanged" && typeof config.right[0]!.event.config["x"] === "object", "a config's {$bigint} object stays an object");
});
