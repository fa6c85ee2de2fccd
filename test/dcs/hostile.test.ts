/**
 * Issue 12, item 1: a committed entry must never stop a node. A setConfig nested 4,000 deep
 * crashed every node of a cluster (a stack overflow while applying it) and again after each
 * restart. Here every kind of hostile config — through the client, and as raw bytes that bypass
 * it — is a rejection with a sentence on several nodes alike, and leaves their states unchanged.
 */
import { either as E } from "fp-ts";
import t from "tap";
import { type ReplicatedLog, DcsClient } from "../../src/dcs/client.js";
import { encodeCommand, encodeCommandChecked } from "../../src/dcs/commands.js";
import type { JsonObject } from "../../src/dcs/json.js";
import { encodeState } from "../../src/dcs/snapshot.js";
import { Driver, SCOPE } from "./fixtures.js";
import { nestedJsonText, nestedObject, rawSetConfig } from "./wire.js";

/** Three nodes with the same bootstrapped scope and a config at version 1. */
function cluster(): Driver[] {
  return [0, 1, 2].map(() => {
    const d = new Driver();
    d.bootstrap();
    d.ok("api:alice", { kind: "setConfig", expectedVersion: 0, mode: "patch", value: { ttl: 20, postgresql: { parameters: { work_mem: "4MB" } } } });
    return d;
  });
}

/** The state as bytes, without the entry bookkeeping every apply advances. */
const scopes = (d: Driver): string => Buffer.from(encodeState(d.machine.state)).toString("utf8").replace(/"nowMs":\d+,"appliedIndex":\d+,/, "");

const TEN_MB = "x".repeat(10 * 1024 * 1024);

/** What a client could hand to PATCH /config once its JSON is parsed. */
const hostileValues: [string, () => JsonObject, RegExp][] = [
  ["nested 4,000 deep", () => nestedObject(4000) as JsonObject, /^config(\.a){16} is nested 17 levels deep, over the limit of 16$/],
  ["nested 100,000 deep", () => nestedObject(100_000) as JsonObject, /^config(\.a){16} is nested 17 levels deep, over the limit of 16$/],
  ["a 10 MB string", () => ({ big: TEN_MB }), /^config\.big is a string of 10485760 characters, over the limit of 8192$/],
  ["1e400", () => JSON.parse('{"n":1e400}') as JsonObject, /^config\.n is not a finite number$/],
  ["NaN", () => ({ n: Number.NaN }), /^config\.n is not a finite number$/],
  ["a control character", () => ({ postgresql: { parameters: { log_line_prefix: "a\nshared_preload_libraries = 'evil'" } } }), /^config\.postgresql\.parameters\.log_line_prefix holds a control character \(U\+000A at position 1\)/],
  ["a __proto__ key", () => JSON.parse('{"__proto__":{"polluted":true}}') as JsonObject, /^config has the key "__proto__", which is not allowed$/],
  ["2,049 keys", () => Object.fromEntries(Array.from({ length: 2049 }, (_, i) => [`k${i}`, i])), /^config has 2049 keys, over the limit of 2048$/],
];

t.test("the client refuses hostile configs before anything is proposed, naming the bound", async (t) => {
  const proposed: Uint8Array[] = [];
  const log: ReplicatedLog = {
    propose: async (payload) => {
      proposed.push(payload);
      throw new Error("not reached");
    },
    readIndex: async () => 0,
  };
  const node = cluster()[0]!;
  const client = new DcsClient(log, node.machine, "pg1");
  for (const [what, value, expected] of hostileValues) {
    const done = await client.execute(SCOPE, { kind: "setConfig", expectedVersion: 1, mode: "patch", value: value() }, { author: "api:mallory" });
    t.ok(E.isLeft(done) && done.left.code === "invalid", `${what}: an "invalid" rejection (the REST edge answers 400)`);
    if (E.isLeft(done)) t.match(done.left.message, expected, what);
    const encoded = encodeCommandChecked({ scope: SCOPE, author: "api:mallory", command: { kind: "setConfig", expectedVersion: 1, mode: "patch", value: value() } });
    t.ok(E.isLeft(encoded), `${what}: encodeCommandChecked answers, never throws`);
  }
  t.equal(proposed.length, 0, "nothing reached the log");
  t.throws(() => encodeCommand({ scope: SCOPE, author: "api:mallory", command: { kind: "setConfig", expectedVersion: 1, mode: "patch", value: nestedObject(4000) as JsonObject } }), /nested 17 levels deep/, "the unchecked encoder asserts: its callers encode their own commands");
  t.equal(({} as Record<string, unknown>)["polluted"], undefined, "no prototype was touched");
});

/** JSON texts a proposer that skipped the client's check could put in the log. */
const hostileTexts: [string, string, RegExp][] = [
  ["nested 4,000 deep", nestedJsonText(4000), /^invalid: invalid command: config(\.a){16} is nested 17 levels deep, over the limit of 16$/],
  ["nested 100,000 deep", nestedJsonText(100_000), /^invalid: invalid command: config(\.a){16} is nested 17 levels deep, over the limit of 16$/],
  ["arrays nested 100,000 deep", `{"a":${"[".repeat(100_000)}${"]".repeat(100_000)}}`, /^invalid: invalid command: config\.a(\[0\]){15} is nested 17 levels deep/],
  ["a 10 MB string", `{"big":"${TEN_MB}"}`, /^invalid: invalid command: it is \d+ bytes, over the limit of 4194304$/],
  ["a 1 MiB config text", `{"big":"${"y".repeat(1024 * 1024)}"}`, /^invalid: invalid command: config is 1048586 characters of JSON, over the limit of 1048576$/],
  ["a 9,000-character string", `{"big":"${"z".repeat(9000)}"}`, /^invalid: invalid command: config\.big is a string of 9000 characters, over the limit of 8192$/],
  ["1e400", '{"n":1e400}', /^invalid: invalid command: config\.n is not a finite number$/],
  ["a control character", '{"s":"a\\u0000b"}', /^invalid: invalid command: config\.s holds a control character \(U\+0000 at position 1\)/],
  ["a __proto__ key", '{"__proto__":{"polluted":true}}', /^invalid: invalid command: config has the key "__proto__", which is not allowed$/],
  ["a nested __proto__ key", '{"postgresql":{"__proto__":{"polluted":true}}}', /^invalid: invalid command: config\.postgresql has the key "__proto__"/],
  ["not JSON", '{"a":', /^invalid: invalid command: config: not valid JSON/],
  ["not an object", "[1,2]", /^invalid: invalid command: config: the JSON is not an object$/],
];

t.test("every node refuses the same hostile config bytes with a sentence, and stays unchanged and equal", async (t) => {
  const nodes = cluster();
  const before = nodes.map(scopes);
  for (const [what, json, expected] of hostileTexts) {
    const payload = rawSetConfig(json, { expectedVersion: 1 });
    for (const [i, node] of nodes.entries()) {
      let decision: ReturnType<Driver["apply"]> | undefined;
      t.doesNotThrow(() => {
        decision = node.apply(payload);
      }, `${what}: node ${i + 1} does not throw`);
      const left = decision !== undefined && E.isLeft(decision) ? decision.left : null;
      t.match(left === null ? "accepted" : `${left.code}: ${left.message}`, expected, `${what}: node ${i + 1}`);
    }
  }
  t.same(nodes.map(scopes), before, "no node's state changed");
  const snapshots = nodes.map((d) => Buffer.from(d.machine.snapshot()).toString("base64"));
  t.equal(new Set(snapshots).size, 1, "the three snapshots are byte-identical");
  t.equal(({} as Record<string, unknown>)["polluted"], undefined, "no prototype was touched");
  for (const node of nodes) {
    t.equal(node.scope().config.version, 1);
    node.ok("api:alice", { kind: "setConfig", expectedVersion: 1, mode: "patch", value: { ttl: 25 } });
  }
  t.equal(new Set(nodes.map((d) => Buffer.from(d.machine.snapshot()).toString("base64"))).size, 1, "and they go on applying, alike");
});

t.test("a config of the greatest allowed depth is accepted, stored and diffed", async (t) => {
  const nodes = cluster();
  for (const node of nodes) {
    t.equal(node.apply(rawSetConfig(`{"deep":${nestedJsonText(15)}}`, { expectedVersion: 1 }))._tag, "Right", "depth 16 with the root");
    t.equal(node.apply(rawSetConfig(`{"deep":${nestedJsonText(15).replace("{}", '{"b":1}')}}`, { expectedVersion: 2 }))._tag, "Right", "a change at the bottom");
  }
  const history = nodes[0]!.scope().configHistory;
  t.equal(JSON.stringify(history[history.length - 1]!.patch), `{"deep":${nestedJsonText(15).replace("{}", '{"b":1}')}}`, "the diff reaches the bottom");
  t.equal(new Set(nodes.map((d) => Buffer.from(d.machine.snapshot()).toString("base64"))).size, 1);
});
