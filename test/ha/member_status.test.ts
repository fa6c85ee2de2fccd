/** memberStatus(): a member reports its pending restart while PostgreSQL runs, fitted to the bounds. */
import t from "tap";
import { commandProblem, PENDING_RESTART_PARAMETERS_MAX } from "../../src/dcs/command_bounds.js";
import { DEFAULT_TAGS } from "../../src/dcs/model.js";
import { memberStatus } from "../../src/ha/member_status.js";
import { m, pg } from "./fixtures.js";

const identity = { name: m("pg2"), apiUrl: "http://127.0.0.1:8009", connUrl: "postgres://127.0.0.1:5433/postgres", tags: DEFAULT_TAGS, agentVersion: "0.1.0" };

t.test("a running server's pending restart is in the report, sorted; none, or a stopped server, has no key", async (t) => {
  const pending = { shared_buffers: { oldValue: "128MB", newValue: "256MB" }, max_connections: { oldValue: "100", newValue: "200" } };
  t.same(memberStatus(identity, pg(), null, false, false, false, pending).pendingRestart, [
    { name: "max_connections", oldValue: "100", newValue: "200" },
    { name: "shared_buffers", oldValue: "128MB", newValue: "256MB" },
  ]);
  t.notOk("pendingRestart" in memberStatus(identity, pg(), null), "nothing pending: no key, the report older versions read");
  t.notOk("pendingRestart" in memberStatus(identity, pg({ process: "stopped" }), null, false, false, false, pending), "stopped: the next start applies them");
});

t.test("whatever PostgreSQL says, the report keeps its bounds (a refused report would look gone)", async (t) => {
  const many = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`ext${i}.setting`, { oldValue: "x".repeat(2000), newValue: "line\nbreak" }]));
  const status = memberStatus(identity, pg(), null, false, false, false, many);
  t.equal(commandProblem({ kind: "upsertMember", status }), null);
  t.ok(status.pendingRestart!.length > 0 && status.pendingRestart!.length <= PENDING_RESTART_PARAMETERS_MAX, `${status.pendingRestart!.length} parameters kept`);
});
