/** rewind_outcome.ts: an interrupted pg_rewind is retried, never a reason to wipe the data directory. */
import t from "tap";
import type { MemberName } from "../../src/dcs/model.js";
import { REWIND_ATTEMPTS_MAX, rewindVerdict } from "../../src/ha/rewind_outcome.js";

const m = (name: string): MemberName => name as MemberName;

t.test("a rewind interrupted by a second failover is retried against the new primary, however often", async (t) => {
  const lost = { code: "sourceLost" as const, message: "rewind against pg2 failed: server closed the connection unexpectedly" };
  let failures = 0;
  for (let i = 0; i < 5; i++) {
    const verdict = rewindVerdict(lost, m("pg2"), m("pg3"), failures);
    t.equal(verdict.kind, "retry");
    if (verdict.kind === "retry") failures = verdict.failures;
  }
  t.equal(failures, 0, "interruptions never count toward a reinit");
  const moved = rewindVerdict({ code: "failed", message: "pg_rewind exited with code 1" }, m("pg2"), m("pg3"), REWIND_ATTEMPTS_MAX - 1);
  t.match(moved, { kind: "retry", failures: REWIND_ATTEMPTS_MAX - 1, why: /interrupted \(pg3 is the primary now\).*the data directory is kept/ }, "any failure while the primary changed is an interruption");
  t.match(rewindVerdict({ code: "failed", message: "x" }, m("pg2"), null, 0), { kind: "retry", failures: 0, why: /no member is the primary yet/ });
});

t.test("against the same healthy primary: give up after the attempts allowed, or at once when pg_rewind cannot work", async (t) => {
  const failed = { code: "failed" as const, message: "rewind against pg2 failed: pg_rewind exited with code 1\nmore" };
  t.match(rewindVerdict(failed, m("pg2"), m("pg2"), 0), { kind: "retry", failures: 1, why: /1 of 2 before giving up/ });
  t.match(rewindVerdict(failed, m("pg2"), m("pg2"), REWIND_ATTEMPTS_MAX - 1), { kind: "giveUp", why: failed.message });
  t.match(rewindVerdict({ code: "rewindImpossible", message: "different systems" }, m("pg2"), m("pg3"), 0), { kind: "giveUp", why: "different systems" }, "impossible whatever happened to the primary");
});
