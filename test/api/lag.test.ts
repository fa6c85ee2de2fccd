import t from "tap";
import { parseDurationMs, parseLagBytes } from "../../src/api/lag.js";
import { parseSchedule } from "../../src/api/schedule.js";
import { either as E } from "fp-ts";

t.test("parseLagBytes reads bytes and PostgreSQL's memory units (factors of 1024)", async (t) => {
  const bytes = (text: string) => {
    const parsed = parseLagBytes(text);
    return parsed.ok ? parsed.bytes : parsed.reason;
  };
  t.equal(bytes("0"), 0);
  t.equal(bytes("1048576"), 1048576);
  t.equal(bytes("16kB"), 16 * 1024);
  t.equal(bytes("64MB"), 64 * 1024 ** 2);
  t.equal(bytes("1GB"), 1024 ** 3);
  t.equal(bytes("2TB"), 2 * 1024 ** 4);
  t.equal(bytes("100B"), 100);
  t.equal(bytes(" 1.5MB "), 1.5 * 1024 ** 2);
  t.equal(bytes("16 kb"), 16 * 1024, "case and a space are forgiven");
  for (const bad of ["", "MB", "-1", "1MiB", "ten", "1e3", "1,000"]) t.match(bytes(bad), /is not a size/, JSON.stringify(bad));
});

t.test("parseDurationMs reads seconds and units", async (t) => {
  t.equal(parseDurationMs(30), 30_000);
  t.equal(parseDurationMs("30"), 30_000);
  t.equal(parseDurationMs("30s"), 30_000);
  t.equal(parseDurationMs("5min"), 300_000);
  t.equal(parseDurationMs("250ms"), 250);
  t.equal(parseDurationMs("soon"), null);
  t.equal(parseDurationMs(true), null);
});

t.test("parseSchedule needs a zone and a future time", async (t) => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  const at = (text: unknown) => {
    const parsed = parseSchedule(text, "switchover", now);
    return E.isRight(parsed) ? parsed.right : `${parsed.left.status} ${parsed.left.message}`;
  };
  t.equal(at("2026-01-02T10:00:00Z"), Date.parse("2026-01-02T10:00:00Z"));
  t.equal(at("2026-01-02T10:00:00+02:00"), Date.parse("2026-01-02T08:00:00Z"));
  t.equal(at("2026-01-02 10:00+0200"), Date.parse("2026-01-02T08:00:00Z"));
  t.equal(at("2026-01-02T10:00:00.123456-05"), Date.parse("2026-01-02T15:00:00.123Z"));
  t.match(at("2026-01-02T10:00:00"), /^400 Timezone information is mandatory/);
  t.match(at("2025-12-31T23:59:59Z"), /^422 Cannot schedule switchover in the past/);
  t.match(at("2026-13-45T10:00:00Z"), /^422 Unable to parse/);
  t.match(at(20260102), /^422 Unable to parse/);
});
