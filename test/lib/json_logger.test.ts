/** jsonLogger(): pino's line shape, levels, child fields, and lines that survive awkward fields. */
import t from "tap";
import { jsonLogger } from "../../src/lib/json_logger.js";

t.test("one JSON line per call in pino's shape, below the level dropped, child fields kept", async (t) => {
  const lines: string[] = [];
  const logger = jsonLogger({ write: (line) => lines.push(line), now: () => 1_700_000_000_000, base: { member: "pg1" }, level: "info" });
  logger.debug({ a: 1 }, "not shown");
  logger.child({ area: "ha" }).warn({ generation: 3n, err: new Error("boom") }, "renewal failed");
  t.equal(lines.length, 1);
  t.ok(lines[0]!.endsWith("\n"));
  const parsed = JSON.parse(lines[0]!) as Record<string, unknown>;
  t.same({ ...parsed, err: undefined }, { level: 40, time: 1_700_000_000_000, member: "pg1", area: "ha", generation: "3", err: undefined, msg: "renewal failed" });
  t.match(parsed["err"], { type: "Error", message: "boom", stack: /boom/ });
});

t.test("fields that cannot be serialized cost the fields, not the line", async (t) => {
  const lines: string[] = [];
  const cyclic: Record<string, unknown> = {};
  cyclic["self"] = cyclic;
  jsonLogger({ write: (line) => lines.push(line), now: () => 5 }).error({ cyclic }, "still logged");
  const parsed = JSON.parse(lines[0]!) as Record<string, unknown>;
  t.equal(parsed["msg"], "still logged");
  t.equal(parsed["level"], 50);
  t.match(parsed["logError"], /could not be serialized/);
});
