/**
 * `raftgres remove` in the cluster state (decide.ts decideRemoveScope): a scope's whole state
 * goes, but only once nothing acts on it — refused while its lease is valid or any member has
 * reported within the ttl, so an agent can never find its cluster gone under it and adopt its
 * data directory again as a new cluster.
 */
import { either as E } from "fp-ts";
import t from "tap";
import { DEFAULT_LIMITS, type Lsn, type Scope } from "../../src/dcs/model.js";
import { Driver, m, rejected, SCOPE, status } from "./fixtures.js";

const OTHER = "reports" as Scope;

/** main bootstrapped (pg1 primary, 30 s lease; pg2, pg3 streaming) and another scope beside it. */
function twoScopes(): Driver {
  const d = new Driver();
  d.bootstrap();
  d.bootstrap(OTHER);
  d.ok("api:alice", { kind: "setConfig", expectedVersion: 0, mode: "patch", value: { ttl: 10 } });
  d.ok("api:alice", { kind: "setPause", paused: true });
  return d;
}

/** The members of `scope` but `silent` report again, now. */
function othersReport(d: Driver, scope: Scope, silent: readonly string[]): void {
  for (const name of ["pg1", "pg2", "pg3"].filter((n) => !silent.includes(n))) d.ok(name, { kind: "upsertMember", status: status(name) }, scope);
}

t.test("refused while a member holds the lease, naming it and until when", async (t) => {
  const d = twoScopes();
  t.equal(rejected(d.run("api:alice", { kind: "removeScope" })), "leaseHeld: pg1 holds the leader lease of main until 2023-11-14T22:13:50.000Z: stop the agents of main first, then remove it");
  t.ok(d.machine.state.scopes.has(SCOPE), "nothing was removed");
});

t.test("refused while any member reported within the ttl, naming them; accepted once all are silent", async (t) => {
  const d = twoScopes();
  d.advance(31_000);
  othersReport(d, SCOPE, ["pg1"]);
  t.equal(rejected(d.run("api:alice", { kind: "removeScope" })), "membersReporting: pg2, pg3 still report (within the ttl of 10 s): stop the agents of main first; an agent running when its cluster state is removed would adopt its data directory again as a new cluster");
  d.advance(10_000);
  t.equal(rejected(d.run("api:alice", { kind: "removeScope" })), "membersReporting: pg2, pg3 still report (within the ttl of 10 s): stop the agents of main first; an agent running when its cluster state is removed would adopt its data directory again as a new cluster", "10 s is within the ttl");
  d.ok("pg3", { kind: "upsertMember", status: status("pg3") });
  d.advance(1);
  t.match(rejected(d.run("api:alice", { kind: "removeScope" })), /^membersReporting: pg3 still reports \(within the ttl of 10 s\)/, "one member: one name");
  d.advance(10_000);
  const removed = d.run("api:alice", { kind: "removeScope" });
  t.ok(E.isRight(removed), rejected(removed));
  if (E.isRight(removed)) t.same(removed.right, [{ kind: "scopeRemoved", by: "api:alice" }]);
  t.notOk(d.machine.state.scopes.has(SCOPE), "main's state is gone: members, lease, config, histories, pause");
  t.ok(d.machine.state.scopes.has(OTHER), "the other scope is untouched");
  t.equal(d.scope(OTHER).members.size, 3);
  t.notOk(Buffer.from(d.machine.snapshot()).toString("utf8").includes('"scope":"main"'), "nor is it in a snapshot");
});

t.test("a scope it does not hold is refused as unknown, also at the limit of scopes", async (t) => {
  const d = new Driver(undefined, { ...DEFAULT_LIMITS, scopesMax: 1 });
  d.bootstrap();
  t.equal(rejected(d.run("api:alice", { kind: "removeScope" }, "nothing" as Scope)), "unknownScope: the cluster state holds nothing for scope nothing: there is nothing to remove");
  t.equal(d.machine.state.scopes.size, 1, "no scope was created by the request");
});

t.test("a removed scope is a new cluster: another member initializes it, lease generations start again", async (t) => {
  const d = new Driver(undefined, { ...DEFAULT_LIMITS, scopesMax: 1 });
  d.bootstrap();
  d.advance(31_000);
  d.ok("api:alice", { kind: "removeScope" });
  t.equal(d.machine.state.scopes.size, 0, "the slot is free again");
  d.ok("pg2", { kind: "upsertMember", status: status("pg2", { role: "primary", state: "running", walWritten: 9000n as Lsn }) });
  d.ok("pg2", { kind: "initializeCluster", member: m("pg2"), systemId: "7301234567890123456" });
  const granted = d.ok("pg2", { kind: "acquireLease", member: m("pg2"), ttlMs: 30_000 });
  t.match(E.isRight(granted) ? granted.right[0] : null, { kind: "leaseAcquired", holder: "pg2", generation: 1 });
  t.same([...d.scope().members.keys()], [m("pg2")], "only the members that reported since");
  t.same(d.scope().config, { version: 0, value: {} }, "the default config");
  t.equal(d.scope().paused, false);
});
