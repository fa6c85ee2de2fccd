import t from "tap";
import { CliExit } from "../../src/api/cli/exit.js";
import { applyPatches, configDiff, parsePgSetting, parseSetting } from "../../src/api/cli/config_edit.js";

t.test("--set builds a nested merge patch with values read as YAML scalars", async (t) => {
  t.same(parseSetting("ttl=30"), { ttl: 30 });
  t.same(parseSetting("postgresql.use_slots=false"), { postgresql: { use_slots: false } });
  t.same(parseSetting("synchronous_mode=on"), { synchronous_mode: "on" }, "YAML 1.2: on stays text");
  t.same(parseSetting("a.b.c=hello world"), { a: { b: { c: "hello world" } } });
  t.same(parseSetting("a.b=[1, 2]"), { a: { b: [1, 2] } });
  t.same(parseSetting("a.b=x=y"), { a: { b: "x=y" } }, "only the first = splits");
});

t.test("--set with null or nothing deletes the key", async (t) => {
  t.same(parseSetting("maximum_lag_on_failover=null"), { maximum_lag_on_failover: null });
  t.same(parseSetting("maximum_lag_on_failover="), { maximum_lag_on_failover: null });
});

t.test("--pg sets postgresql.parameters, a dotted parameter name staying one key", async (t) => {
  t.same(parsePgSetting("max_connections=200"), { postgresql: { parameters: { max_connections: 200 } } });
  t.same(parsePgSetting("auto_explain.log_min_duration=250ms"), { postgresql: { parameters: { "auto_explain.log_min_duration": "250ms" } } });
  t.same(parseSetting("postgresql.parameters.pg_stat_statements.max=10000"), { postgresql: { parameters: { "pg_stat_statements.max": 10000 } } });
});

t.test("a malformed --set is a usage error that says what was expected", async (t) => {
  for (const bad of ["ttl", "=5", "a..b=1", "a.b=[unclosed"]) {
    try {
      parseSetting(bad);
      t.fail(`${bad} was accepted`);
    } catch (error: unknown) {
      t.ok(error instanceof CliExit && error.code === 2 && error.message.includes("--set"), bad);
    }
  }
});

t.test("patches apply in order and the diff is a unified diff of the YAML", async (t) => {
  const before = { ttl: 30, loop_wait: 10, postgresql: { parameters: { max_connections: 100 } } };
  const after = applyPatches(before, [parseSetting("ttl=40"), parsePgSetting("max_connections=200"), parseSetting("loop_wait=null")]);
  t.same(after, { ttl: 40, postgresql: { parameters: { max_connections: 200 } } });
  const diff = configDiff(before, after);
  t.equal(diff, [
    "--- before",
    "+++ after",
    "@@ -1,5 +1,4 @@",
    "-loop_wait: 10",
    " postgresql:",
    "   parameters:",
    "-    max_connections: 100",
    "-ttl: 30",
    "+    max_connections: 200",
    "+ttl: 40",
  ].join("\n"));
  t.equal(configDiff(before, before), "", "no change, no diff");
});
