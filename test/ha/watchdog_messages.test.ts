/**
 * The watchdog's messages without processes: the signed fence report (both sides' one
 * definition), the command protocol's refusals, the bounded line splitter and /proc stat parsing.
 */
import { createHmac } from "node:crypto";
import { either as E } from "fp-ts";
import t from "tap";
import type { MemberName, Scope } from "../../src/dcs/model.js";
import { checkReportTargets, encodeFenceReport, FENCE_REPORT_BYTES_MAX, verifyFenceReport } from "../../src/ha/io/fence_report.js";
import { parseProcStat, readProcStat } from "../../src/ha/io/proc_group.js";
import { decodeCommand, encodeMessage, LineSplitter, WATCHDOG_LINE_BYTES_MAX } from "../../src/ha/io/watchdog_protocol.js";

const SECRET = "s3cret";
const REPORT = { scope: "orders" as Scope, member: "pg1" as MemberName, generation: 12 };
const EXTRA = { processGroup: 4242, firedAtMs: 1_700_000_000_000, reason: "deadline" as const };

function signed(body: string, secret = SECRET): string {
  return createHmac("sha256", secret).update(body).digest("hex");
}

function refusal(result: E.Either<string, unknown>): string {
  return E.isLeft(result) ? result.left : "accepted";
}

t.test("a fence report verifies with the secret it was signed with and gives back every field", async (t) => {
  const { body, signature } = encodeFenceReport(REPORT, EXTRA, SECRET);
  t.match(signature, /^[0-9a-f]{64}$/);
  const verified = verifyFenceReport(body, signature, SECRET);
  t.same(E.isRight(verified) ? verified.right : null, { ...REPORT, ...EXTRA });
  t.ok(E.isRight(verifyFenceReport(body, signature.toUpperCase(), SECRET)), "hex digits in either case");
});

t.test("verifyFenceReport refuses a wrong signature, a tampered body and malformed JSON, with reasons", async (t) => {
  const { body, signature } = encodeFenceReport(REPORT, EXTRA, SECRET);
  t.match(refusal(verifyFenceReport(body, signature, "other")), /signature does not match the body/, "another secret");
  t.match(refusal(verifyFenceReport(body.replace('"generation":12', '"generation":13'), signature, SECRET)), /signature does not match the body/, "a tampered body");
  t.match(refusal(verifyFenceReport(body, signature.slice(0, 63), SECRET)), /must be 64 hex digits/, "a short signature");
  t.match(refusal(verifyFenceReport(body, "z".repeat(64), SECRET)), /must be 64 hex digits/, "not hex");
  t.match(refusal(verifyFenceReport(body, "", SECRET)), /must be 64 hex digits/, "no signature");
  const malformed = '{"scope":"orders",';
  t.match(refusal(verifyFenceReport(malformed, signed(malformed), SECRET)), /not valid JSON/, "malformed JSON, even when signed");
  const huge = "x".repeat(FENCE_REPORT_BYTES_MAX + 1);
  t.match(refusal(verifyFenceReport(huge, signed(huge), SECRET)), /more than 4096/);
  const fields = { ...REPORT, ...EXTRA };
  const cases: [unknown, RegExp][] = [
    [[1, 2], /must be a JSON object/],
    [{ ...fields, extra: 1 }, /unknown key "extra"/],
    [{ ...fields, reason: undefined }, /the key "reason" is missing/],
    [{ ...fields, reason: "bored" }, /"reason" must be one of "deadline", "agent exited"/],
    [{ ...fields, generation: 0 }, /"generation" must be a positive integer/],
    [{ ...fields, member: "no spaces allowed" }, /"member" "no spaces allowed" is not a valid member name/],
    [{ ...fields, processGroup: 1 }, /"processGroup" must be an integer above 1/],
    [{ ...fields, firedAtMs: -5 }, /"firedAtMs" must be a non-negative integer/],
  ];
  for (const [value, reason] of cases) {
    const text = JSON.stringify(value);
    t.match(refusal(verifyFenceReport(text, signed(text), SECRET)), reason, text);
  }
});

t.test("report targets are http(s) base URLs, at most 16, a trailing slash dropped", async (t) => {
  t.same(checkReportTargets(["http://10.0.0.2:8008/", "https://db3:8008"]), E.right(["http://10.0.0.2:8008", "https://db3:8008"]));
  t.match(refusal(checkReportTargets(["not a url"])), /is not a URL/);
  t.match(refusal(checkReportTargets(["http://x:1/?q=1"])), /no query or fragment/);
  t.match(refusal(checkReportTargets(Array.from({ length: 17 }, (_, i) => `http://h${i}:1`))), /17 report targets, more than 16/);
});

t.test("commands round-trip (deadlines as decimal bigints) and bad ones are refused with reasons", async (t) => {
  const arm = { type: "arm" as const, processGroup: 777, deadlineNs: 123_456_789_012_345_678n, report: REPORT };
  const line = encodeMessage(arm);
  t.ok(line.endsWith("\n") && !line.slice(0, -1).includes("\n"), "one line");
  t.same(decodeCommand(line), E.right(arm));
  const wire = { ...arm, deadlineNs: arm.deadlineNs.toString() };
  const cases: [unknown, RegExp][] = [
    [{ ...wire, processGroup: 1 }, /"processGroup" must be an integer above 1/],
    [{ ...wire, processGroup: 0 }, /"processGroup" must be an integer above 1/],
    [{ ...wire, processGroup: -5 }, /"processGroup" must be an integer above 1/],
    [{ ...wire, deadlineNs: 5 }, /"deadlineNs" must be a decimal string/],
    [{ ...wire, deadlineNs: "-5" }, /"deadlineNs" must be a decimal string/],
    [{ ...wire, report: { ...REPORT, generation: 1.5 } }, /"generation" must be a positive integer/],
    [{ type: "configure", secret: "", targets: [], devicePath: null }, /"secret" must be a non-empty string/],
    [{ type: "targets", urls: ["gopher://x"] }, /must be http: or https:/],
    [{ type: "explode" }, /unknown command type "explode"/],
  ];
  for (const [value, reason] of cases) t.match(refusal(decodeCommand(JSON.stringify(value))), reason, JSON.stringify(value));
  t.match(refusal(decodeCommand("{")), /not JSON/);
});

t.test("the line splitter joins chunks, skips blank lines and drops an over-long line once", async (t) => {
  const splitter = new LineSplitter();
  t.same(splitter.push('{"a":'), { lines: [], overflow: false });
  t.same(splitter.push('1}\n\n{"b":2}\n{"c"'), { lines: ['{"a":1}', '{"b":2}'], overflow: false });
  t.same(splitter.push(":3}\n"), { lines: ['{"c":3}'], overflow: false });
  t.same(splitter.push("x".repeat(WATCHDOG_LINE_BYTES_MAX + 1)), { lines: [], overflow: true });
  t.same(splitter.push("x".repeat(WATCHDOG_LINE_BYTES_MAX + 1)), { lines: [], overflow: false }, "reported once per line");
  t.same(splitter.push('tail\n{"d":4}\n'), { lines: ['{"d":4}'], overflow: false }, "the rest of the long line is dropped");
});

t.test("/proc/[pid]/stat parsing copes with spaces and parentheses in the command name", async (t) => {
  const tail = "0 -1 4194560 151 0 0 0 0 0 0 0 20 0 1 0 987654 8192 100";
  t.same(parseProcStat(`1234 (post gres: (wal) writer) S 1200 1200 1200 ${tail}`), { pid: 1234, state: "S", parentPid: 1200, processGroup: 1200, startTicks: 987654 });
  t.same(parseProcStat(`99 (sh) Z 1 98 98 ${tail}`), { pid: 99, state: "Z", parentPid: 1, processGroup: 98, startTicks: 987654 });
  t.equal(parseProcStat("99 (sh) Z 1 98 98 0"), null, "a truncated line");
  const self = readProcStat(process.pid);
  t.equal(self?.pid, process.pid, "this process's own stat parses");
  t.ok(self !== null && self.startTicks > 0);
  t.equal(parseProcStat("garbage"), null);
});
