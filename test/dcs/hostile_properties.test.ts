/**
 * Whatever bytes reach the log, every node applies them alike and none throws: random payloads,
 * valid commands with bytes flipped, and well-formed envelopes whose every field is hostile (bad
 * names, out-of-range numbers, NaN generations, deep or odd JSON, unknown variants), mixed with
 * valid commands so the rules see a living state. Three machines apply each sequence in the same
 * order and must have byte-identical snapshots after every step; a refused entry must leave the
 * state as it was; a fourth machine restored from a snapshot part-way must end equal too.
 * Seeded (fast-check): a failure prints its seed and path and replays.
 */
import fc from "fast-check";
import { either as E } from "fp-ts";
import t from "tap";
import { type Command, encodeCommand } from "../../src/dcs/commands.js";
import { DEFAULT_TAGS, type Lsn, type Scope } from "../../src/dcs/model.js";
import { DcsStateMachine } from "../../src/dcs/state_machine.js";
import { m } from "./fixtures.js";
import { BorshWriter, envelope, nestedJsonText } from "./wire.js";

const T0 = 1_700_000_000_000;
const MEMBERS = ["pg1", "pg2", "pg3"];

const name = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...MEMBERS) },
  { weight: 1, arbitrary: fc.constantFrom("", "bad name", "x".repeat(64), "-pg", "pg1\n", "__proto__", "5n") },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
);
const scope = fc.oneof({ weight: 8, arbitrary: fc.constant("main") }, { weight: 1, arbitrary: fc.constantFrom("other", "", "bad scope") });
const author = fc.oneof({ weight: 4, arbitrary: name }, { weight: 2, arbitrary: fc.constantFrom("api:op", "api", "x".repeat(300), "api:\u0000") });
const anyF64 = fc.oneof(fc.constantFrom(Number.NaN, Infinity, -Infinity, -1, 0.5, 0, 1, 2, 3, 1e300, -0), fc.double());
const anyU32 = fc.oneof(fc.constantFrom(0, 1, 999, 3000, 30_000, 3_600_000, 3_600_001, 0xffff_ffff), fc.nat());
const text = fc.oneof(fc.string({ maxLength: 20 }), fc.string({ unit: "binary", maxLength: 20 }), fc.constantFrom("x".repeat(600), "a\nb"));
const configText = fc.oneof(
  fc.json({ maxDepth: 4 }),
  fc.integer({ min: 1, max: 6000 }).map((depth) => nestedJsonText(depth)),
  fc.constantFrom(
    '{"x":{"$bigint":"5"}}',
    '{"ttl":1e400}',
    '{"ttl":3}',
    '{"loop_wait":"x"}',
    '{"postgresql":{"parameters":{"a":[1]}}}',
    '{"__proto__":{"polluted":1}}',
    '{"toString":1}',
    '{"constructor":{"a":1}}',
    '{"standby_cluster":{"host":"h"}}',
    '{"synchronous_mode":"quorum"}',
    "{",
    "null",
    `{"s":"${"y".repeat(9000)}"}`,
  ),
);

function optionF64(w: BorshWriter, value: number | null): BorshWriter {
  return w.optionF64(value);
}

function optionString(w: BorshWriter, value: string | null): BorshWriter {
  return value === null ? w.u8(0) : w.u8(1).string(value);
}

/** A well-formed envelope of a random variant (0–15, or an unknown one) with hostile fields. */
const hostile: fc.Arbitrary<Uint8Array> = fc.record({
  scope, author, variant: fc.oneof({ weight: 16, arbitrary: fc.integer({ min: 0, max: 15 }) }, { weight: 1, arbitrary: fc.integer({ min: 16, max: 255 }) }),
  a: name, b: name, s: text, f: anyF64, u: anyU32, flag: fc.boolean(), small: fc.integer({ min: 0, max: 255 }),
  lsn: fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn }), json: configText,
  names: fc.array(name, { maxLength: 70 }), optional: fc.option(name, { nil: null }),
}).map((r) => {
  const w = envelope(r.scope, r.author, r.variant);
  switch (r.variant) {
    case 0: return w.string(r.a).string(r.s).bytes();
    case 1: {
      w.string(r.a).string(r.s).string(r.s).u8(r.small % 6).u8(r.small).u32(r.u);
      for (let i = 0; i < 3; i++) w.u8(1).u64(r.lsn);
      w.bool(r.flag).u32(r.u).bool(false).bool(true).bool(r.flag);
      return optionString(w, r.optional).string(r.s).bytes();
    }
    case 2: case 8: case 15: return w.string(r.a).bytes();
    case 3: return w.string(r.a).u32(r.u).bytes();
    case 4: return w.string(r.a).u32(r.u).f64(r.f).bytes();
    case 5: return w.string(r.a).f64(r.f).bytes();
    case 6: return optionF64(w, r.flag ? null : r.f).bool(r.small % 2 === 0).string(r.json).bytes();
    case 7: return optionF64(optionString(optionString(w, r.optional), r.flag ? r.b : null), r.flag ? r.f : null).bytes();
    case 9: return w.bytes();
    case 10: {
      optionString(optionF64(w, r.flag ? null : r.f), r.optional).u32(r.names.length);
      for (const n of r.names) w.string(n);
      return w.u32(r.small % 4).bytes();
    }
    case 11: return w.u32(r.u).u64(r.lsn).u8(r.small).string(r.a).bytes();
    case 12: return w.bool(r.flag).bytes();
    case 13: return w.string(r.a).bool(r.flag).bytes();
    case 14: return w.string(r.a).f64(r.f).string(r.s).bytes();
    default: return w.string(r.a).u32(r.u).bytes();
  }
});

/** Valid commands, so that leases, members and configs exist for the hostile ones to meet. */
const valid: fc.Arbitrary<Uint8Array> = fc.record({ who: fc.constantFrom(...MEMBERS), other: fc.constantFrom(...MEMBERS), kind: fc.integer({ min: 0, max: 7 }), n: fc.integer({ min: 0, max: 3 }) }).map(({ who, other, kind, n }) => {
  const commands: Command[] = [
    { kind: "upsertMember", status: { name: m(who), apiUrl: "", connUrl: "", role: n === 0 ? "primary" : "replica", state: "streaming", timeline: 1, walWritten: n === 0 ? (5000n as Lsn) : null, walReceived: 4000n as Lsn, walReplayed: null, tags: DEFAULT_TAGS, agentVersion: "t" } },
    { kind: "initializeCluster", member: m(who), systemId: "" },
    { kind: "acquireLease", member: m(who), ttlMs: 30_000 },
    { kind: "renewLease", member: m(who), ttlMs: 30_000, generation: n },
    { kind: "setConfig", expectedVersion: null, mode: n === 3 ? "replace" : "patch", value: { ttl: 10 + n, x: { y: n } } },
    { kind: "requestFailover", to: m(other), allowDataLoss: n % 2 === 0 },
    { kind: "setSyncState", expectedVersion: null, leader: m(who), standbys: [m(other)].filter((s) => s !== who), quorum: n % 2 },
    { kind: "recordTimeline", timeline: n + 1, lsn: 10n as Lsn, reason: "failover", newPrimary: m(who) },
  ];
  return encodeCommand({ scope: "main" as Scope, author: commands[kind]!.kind === "setConfig" || commands[kind]!.kind === "requestFailover" ? "api:op" : who, command: commands[kind]! });
});

/** A valid command with bytes flipped, cut short or grown. */
const mutated: fc.Arbitrary<Uint8Array> = fc.tuple(valid, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.integer({ min: -8, max: 8 })).map(([bytes, flips, resize]) => {
  const out = Buffer.from(bytes);
  for (const [at, value] of flips) out[at % out.length] = value;
  return resize < 0 ? new Uint8Array(out.subarray(0, Math.max(0, out.length + resize))) : new Uint8Array(Buffer.concat([out, Buffer.alloc(resize, 7)]));
});

const payload = fc.oneof(
  { weight: 4, arbitrary: valid },
  { weight: 4, arbitrary: hostile },
  { weight: 2, arbitrary: mutated },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
);

const step = fc.record({ payload, advanceMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 40_000 })) });

const stateText = (machine: DcsStateMachine): string => Buffer.from(machine.snapshot()).toString("utf8");
const withoutBookkeeping = (text: string): string => text.replace(/"nowMs":[^,]+,"appliedIndex":\d+,/, "");

t.test("random and hostile payloads: no node throws, all stay byte-identical, refusals change nothing", async (t) => {
  fc.assert(fc.property(fc.array(step, { minLength: 1, maxLength: 60 }), fc.nat(), (steps, cut) => {
    const machines = [new DcsStateMachine(), new DcsStateMachine(), new DcsStateMachine()];
    const at = cut % steps.length;
    let restored: DcsStateMachine | null = null;
    let nowMs = T0;
    for (const [i, { payload: bytes, advanceMs }] of steps.entries()) {
      nowMs += advanceMs;
      if (i === at) {
        restored = new DcsStateMachine();
        if (E.isLeft(restored.restore(machines[0]!.snapshot()))) return false;
      }
      const before = withoutBookkeeping(stateText(machines[0]!));
      const entry = { index: i + 1, term: 1, timeMs: nowMs };
      const decisions = machines.map((machine) => machine.apply(bytes, entry));
      if (restored !== null) decisions.push(restored.apply(bytes, entry));
      const texts = machines.map(stateText);
      if (restored !== null) texts.push(stateText(restored));
      if (new Set(texts).size !== 1) return false;
      if (new Set(decisions.map((d) => JSON.stringify(d, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v)))).size !== 1) return false;
      if (E.isLeft(decisions[0]!) && withoutBookkeeping(texts[0]!) !== before) return false;
      if (E.isLeft(decisions[0]!) && decisions[0].left.code === "internal") return false;
    }
    return ({} as Record<string, unknown>)["polluted"] === undefined;
  }), { seed: 1201, numRuns: 250 });
  t.pass("250 sequences of up to 60 entries");
});
