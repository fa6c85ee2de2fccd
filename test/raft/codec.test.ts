import { isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import { either as E } from "fp-ts";
import t from "tap";
import { decodeConfChange, decodeEntry, decodeFrame, decodeHardState, encodeConfChange, encodeEntry, encodeFrame, encodeHardState } from "../../src/raft/codec.js";
import { type Entry, type LogIndex, makeMessage, type Message, MESSAGE_TYPES, type NodeId, nodeId, type Term } from "../../src/raft/types.js";

const idArb = fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/).map((s) => nodeId(s));
const numArb = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const entryArb = (index: number): fc.Arbitrary<Entry> =>
  fc.record({ term: numArb, type: fc.constantFrom("normal" as const, "config" as const), timeMs: numArb, data: fc.uint8Array({ maxLength: 40 }) })
    .map((e) => ({ ...e, index: index as LogIndex, term: e.term as Term }));
const messageArb: fc.Arbitrary<Message> = fc.record({
  type: fc.constantFrom(...MESSAGE_TYPES.filter((m) => m !== "propose" && m !== "snapshot")),
  from: idArb,
  to: idArb,
  term: numArb,
  index: numArb,
  reject: fc.boolean(),
  force: fc.boolean(),
  context: numArb,
  transferTarget: fc.option(idArb, { nil: null }),
  entryCount: fc.integer({ min: 0, max: 3 }),
  first: fc.integer({ min: 1, max: 1_000_000 }),
}).chain((r) => fc.tuple(...Array.from({ length: r.entryCount }, (_, i) => entryArb(r.first + i))).map((entries) =>
  makeMessage({ type: r.type, from: r.from as NodeId, to: r.to as NodeId, term: r.term as Term, index: r.index as LogIndex, reject: r.reject, force: r.force, context: r.context, transferTarget: r.transferTarget, entries: entries.map((e, i) => ({ ...e, term: (i === 0 ? e.term : entries[0]!.term) as Term })) })));

/** Plain data with sorted keys and byte arrays as number lists, for comparison. */
function normal(value: unknown): unknown {
  if (value instanceof Uint8Array) return [...value];
  if (Array.isArray(value)) return value.map(normal);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, normal((value as Record<string, unknown>)[k])]));
  }
  return value;
}

t.test("frames of messages survive encoding and decoding", async (t) => {
  fc.assert(fc.property(fc.array(messageArb, { maxLength: 4 }), (messages) => {
    const decoded = decodeFrame(encodeFrame(messages));
    return E.isRight(decoded) && isDeepStrictEqual(normal(decoded.right), normal(messages));
  }), { numRuns: 300 });
  t.pass("300 random frames round-trip");
});

t.test("entries, hard states and membership changes round-trip", async (t) => {
  const entry: Entry = { term: 3 as Term, index: 7 as LogIndex, type: "normal", timeMs: 1_795_000_000_000, data: new Uint8Array([1, 2]) };
  const decoded = decodeEntry(encodeEntry(entry));
  t.ok(E.isRight(decoded) && decoded.right.index === 7 && decoded.right.timeMs === entry.timeMs);
  const hs = { term: 9 as Term, vote: nodeId("pg2"), commit: 40 as LogIndex };
  t.same(decodeHardState(encodeHardState(hs)), E.right(hs));
  t.same(decodeConfChange(encodeConfChange({ kind: "addLearner", id: nodeId("pg4"), address: "10.0.0.4:7000" })), E.right({ kind: "addLearner", id: "pg4", address: "10.0.0.4:7000" }));
});

t.test("malformed bytes are refused with a reason, never thrown", async (t) => {
  const frame = encodeFrame([makeMessage({ type: "heartbeat", from: nodeId("a"), to: nodeId("b"), term: 1 as Term })]);
  for (const bad of [new Uint8Array([1, 2, 3]), frame.subarray(0, frame.length - 2), Uint8Array.from([...frame, 0])]) {
    const decoded = decodeFrame(bad);
    t.ok(E.isLeft(decoded) && decoded.left.startsWith("malformed frame"), E.isLeft(decoded) ? decoded.left : "decoded");
  }
  const badType = Uint8Array.from(frame);
  badType[4] = 200; // the first message's type byte
  t.match(E.isLeft(decodeFrame(badType)) ? (decodeFrame(badType) as E.Left<string>).left : "", /unknown message type 200/);
  const withHugeTerm = encodeFrame([makeMessage({ type: "heartbeat", from: nodeId("a"), to: nodeId("b"), term: 1 as Term })]);
  const view = new DataView(withHugeTerm.buffer, withHugeTerm.byteOffset);
  view.setUint32(4 + 1 + 5 + 5 + 4, 0xffffffff, true); // the high half of the term: far above 2^53
  t.match(E.isLeft(decodeFrame(withHugeTerm)) ? (decodeFrame(withHugeTerm) as E.Left<string>).left : "", /above 2\^53/);
});

t.test("only forwarded proposals may carry entries without an index", async (t) => {
  const forwarded = makeMessage({ type: "propose", from: nodeId("a"), to: nodeId("b"), term: 0 as Term, entries: [{ term: 0 as Term, index: 0 as LogIndex, type: "normal", timeMs: 0, data: new Uint8Array([1]) }] });
  t.ok(E.isRight(decodeFrame(encodeFrame([forwarded]))));
  const append = { ...forwarded, type: "append" as const };
  t.ok(E.isLeft(decodeFrame(encodeFrame([append]))), "an append with entry index 0 is refused");
});
