/**
 * Snapshots: bad bytes are answered, never thrown; the decoded state's shape and bounds are
 * checked; a good snapshot decodes to a state that encodes to the same bytes.
 */
import { either as E } from "fp-ts";
import t from "tap";
import { DcsClient } from "../../src/dcs/client.js";
import type { JsonObject } from "../../src/dcs/json.js";
import { DEFAULT_LIMITS } from "../../src/dcs/model.js";
import { decodeState, encodeState } from "../../src/dcs/snapshot.js";
import { createRecordingLogger } from "../../src/lib/logger.js";
import { Driver, m, rejected, SCOPE } from "./fixtures.js";
import { nestedJsonText } from "./wire.js";

function bootstrapped(): Driver {
  const d = new Driver();
  d.bootstrap();
  d.ok("api:alice", { kind: "setConfig", expectedVersion: 0, mode: "patch", value: { ttl: 20, slots: { backup: { type: "physical" } } } });
  d.ok("pg1", { kind: "recordTimeline", timeline: 1, lsn: 0n as never, reason: "bootstrap", newPrimary: m("pg1") });
  d.ok("pg2", { kind: "recordTimeline", timeline: 2, parent: 1, lsn: 5000n as never, reason: "failover", newPrimary: m("pg2") });
  d.ok("pg1", { kind: "setSyncState", expectedVersion: 0, leader: m("pg1"), standbys: [m("pg2")], quorum: 1 });
  d.ok("api:alice", { kind: "setMaintenance", member: m("pg3"), on: true });
  d.ok("api:alice", { kind: "requestFailover", to: m("pg2"), allowDataLoss: true });
  return d;
}

const text = (d: Driver): string => Buffer.from(d.machine.snapshot()).toString("utf8");

/** The snapshot of `d` with `edit` applied to its parsed JSON. */
function edited(d: Driver, edit: (json: { scopes: Record<string, unknown>[] } & Record<string, unknown>) => void): Uint8Array {
  const json = JSON.parse(text(d)) as { scopes: Record<string, unknown>[] } & Record<string, unknown>;
  edit(json);
  return new TextEncoder().encode(JSON.stringify(json));
}

t.test("a state decodes to one that encodes to the same bytes", async (t) => {
  const d = bootstrapped();
  const decoded = decodeState(d.machine.snapshot(), DEFAULT_LIMITS);
  t.ok(E.isRight(decoded));
  if (E.isRight(decoded)) t.equal(Buffer.from(encodeState(decoded.right)).toString("utf8"), text(d));
  const restored = new Driver();
  t.ok(E.isRight(restored.restore(d.machine.snapshot())));
  t.equal(text(restored), text(d));
  t.equal(typeof restored.scope().members.get(m("pg1"))?.walWritten, "bigint", "LSNs are bigints again");
});

t.test("bad bytes and bad states are answered with what is wrong; the machine keeps its state and decides nothing", async (t) => {
  const good = bootstrapped();
  const cases: [string, Uint8Array, RegExp][] = [
    ["not UTF-8", Uint8Array.of(0xff, 0xfe, 0x7b), /^the DCS snapshot is not valid UTF-8 JSON/],
    ["not JSON", new TextEncoder().encode('{"format":1,'), /^the DCS snapshot is not valid UTF-8 JSON/],
    ["a list", new TextEncoder().encode("[]"), /^the DCS snapshot is not valid: the DCS snapshot must be an object, got a list$/],
    ["a newer format", edited(good, (j) => (j["format"] = 2)), /^DCS snapshot format 2 is not 1; upgrade this node$/],
    ["an unknown field", edited(good, (j) => (j["extra"] = 1)), /has an unknown field "extra"/],
    ["a negative index", edited(good, (j) => (j["appliedIndex"] = -1)), /appliedIndex must be an integer from 0/],
    ["a member with an unknown role", edited(good, (j) => ((j.scopes[0]!["members"] as Record<string, unknown>[])[0]!["role"] = "king")), /members\[0\] \("pg1"\)\.role must be one of primary, replica/],
    ["an LSN that is a number", edited(good, (j) => ((j.scopes[0]!["members"] as Record<string, unknown>[])[0]!["walWritten"] = 5)), /walWritten must be a WAL position/],
    ["an LSN over 2^64", edited(good, (j) => ((j.scopes[0]!["members"] as Record<string, unknown>[])[0]!["walWritten"] = { $bigint: "18446744073709551616" })), /walWritten must be a WAL position below 2\^64/],
    ["a lease newer than any grant", edited(good, (j) => (j.scopes[0]!["leaseGeneration"] = 0)), /lease\.generation must be an integer from 1 to 0/],
    ["a member listed twice", edited(good, (j) => (j.scopes[0]!["members"] as unknown[]).push((j.scopes[0]!["members"] as unknown[])[0])), /lists member pg1 twice/],
    ["maintenance of a stranger", edited(good, (j) => (j.scopes[0]!["maintenance"] = ["pg9"])), /maintenance lists pg9, which is not a member/],
    ["a quorum over the standbys", edited(good, (j) => ((j.scopes[0]!["sync"] as Record<string, unknown>)["quorum"] = 2)), /sync\.quorum must be an integer from 0 to 1/],
    ["a config nested 100,000 deep", new TextEncoder().encode(text(good).replace('"value":{"slots"', `"value":{"deep":${nestedJsonText(100_000)},"slots"`)), /config\.value(\.deep)?(\.a)+ is nested 65 levels deep, over the limit of 64/],
    ["a config that is a list", edited(good, (j) => ((j.scopes[0]!["config"] as Record<string, unknown>)["value"] = [])), /config\.value must be a JSON object, got a list/],
    ["a scope listed twice", edited(good, (j) => j.scopes.push(j.scopes[0]!)), /scope main is listed twice/],
  ];
  for (const [what, bytes, expected] of cases) {
    const logger = createRecordingLogger();
    const d = new Driver(logger);
    d.bootstrap();
    const before = text(d);
    let answer: E.Either<string, void> | undefined;
    t.doesNotThrow(() => {
      answer = d.restore(bytes);
    }, what);
    t.ok(answer !== undefined && E.isLeft(answer), `${what}: a Left`);
    if (answer !== undefined && E.isLeft(answer)) t.match(answer.left, expected, what);
    t.equal(text(d), before, `${what}: the state is unchanged`);
    t.match(logger.lines, [{ level: "error", message: /^cannot restore the cluster state from a snapshot/ }], `${what}: logged`);
    t.match(rejected(d.run("pg1", { kind: "setPause", paused: true })), /^internal: this node's cluster state could not be restored from a snapshot/, `${what}: decides nothing until a restore succeeds`);
  }
  const d = new Driver();
  d.machine.restore(Uint8Array.of(1));
  const client = new DcsClient({ propose: async () => ({ index: 1, result: E.right([]) }), readIndex: async () => 1 }, d.machine, "pg1");
  t.match(await client.read(SCOPE), { _tag: "Left", left: { code: "unavailable" } }, "reads are unavailable too");
  t.ok(E.isRight(d.restore(good.machine.snapshot())), "a good snapshot mends it");
  t.equal(text(d), text(good));
  t.ok(E.isRight(await client.read(SCOPE)));
});

t.test("a config holding a {$bigint} object stays an object through a snapshot", async (t) => {
  const d = new Driver();
  d.bootstrap();
  d.ok("api:alice", { kind: "setConfig", expectedVersion: 0, mode: "patch", value: { x: { $bigint: "5" } } as JsonObject });
  const restored = new Driver();
  restored.restore(d.machine.snapshot());
  t.same(restored.scope().config.value["x"], { $bigint: "5" }, "not a BigInt (which canonicalJson could not write)");
  t.equal(text(restored), text(d));
  for (const node of [d, restored]) node.ok("api:alice", { kind: "setConfig", expectedVersion: 1, mode: "patch", value: { x: { $bigint: "6" } } as JsonObject });
  t.equal(text(restored), text(d), "and both nodes go on alike");
});

t.test("a config stored before the bounds existed still loads; a change is refused, naming it, until it is removed", async (t) => {
  const d = new Driver();
  d.bootstrap();
  const legacy = Buffer.from(d.machine.snapshot()).toString("utf8").replace('"value":{}', '"value":{"notes":"line 1\\nline 2"}');
  const restored = new Driver();
  t.ok(E.isRight(restored.restore(new TextEncoder().encode(legacy))), "it loads");
  t.match(rejected(restored.run("api:alice", { kind: "setConfig", expectedVersion: null, mode: "patch", value: { ttl: 20 } })), /^invalid: the resulting config\.notes holds a control character \(U\+000A at position 6\)/);
  t.equal(rejected(restored.run("api:alice", { kind: "setConfig", expectedVersion: null, mode: "patch", value: { ttl: 20, notes: null } })), "accepted");
});
