/**
 * PATCH and PUT /config (src/api/config_check.ts) hold the cluster's postgresql.pg_hba,
 * use_pg_rewind and use_slots to the rules the agents apply them by
 * (src/dcs/dynamic_postgresql.ts): every problem in the answer, each naming its key.
 */
import t from "tap";
import { checkConfigChange } from "../../src/api/config_check.js";

const noParameterProblems = () => [];

t.test("a PATCH of valid lines and switches is accepted, and a null deletes them", async (t) => {
  const verdict = checkConfigChange({}, { postgresql: { pg_hba: ["host all app 10.0.0.0/8 scram-sha-256"], use_pg_rewind: false, use_slots: false } }, "patch", noParameterProblems);
  t.same(verdict, { ok: true, next: { postgresql: { pg_hba: ["host all app 10.0.0.0/8 scram-sha-256"], use_pg_rewind: false, use_slots: false } } });
  const deleted = checkConfigChange({ postgresql: { pg_hba: ["local all all peer"] } }, { postgresql: { pg_hba: null } }, "patch", noParameterProblems);
  t.same(deleted, { ok: true, next: { postgresql: {} } });
});

t.test("bad lines and switches are refused, all at once, each by its key", async (t) => {
  const verdict = checkConfigChange({}, { postgresql: { pg_hba: ["host all app 10.0.0.0/8 scram-sha-256", "host all all 0.0.0.0/0"], use_pg_rewind: "no", use_slots: 1 } }, "patch", noParameterProblems);
  t.same(verdict, {
    ok: false,
    tooLarge: false,
    problems: [
      'postgresql.pg_hba[1]: "host all all 0.0.0.0/0" has no authentication method (host DATABASE USER ADDRESS METHOD [OPTIONS])',
      'postgresql.use_pg_rewind must be true or false, got "no"',
      "postgresql.use_slots must be true or false, got 1",
    ],
  });
  const notList = checkConfigChange({}, { postgresql: { pg_hba: "host all all 0.0.0.0/0 md5" } }, "replace", noParameterProblems);
  t.same(notList.ok ? [] : notList.problems, ["postgresql.pg_hba must be a list of pg_hba.conf lines, got string"]);
  const long = checkConfigChange({}, { postgresql: { pg_hba: Array(257).fill("local all all peer") } }, "patch", noParameterProblems);
  t.same(long.ok ? [] : long.problems, ["postgresql.pg_hba has 257 lines, more than the 256 allowed"]);
});
