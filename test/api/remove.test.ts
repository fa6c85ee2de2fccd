/**
 * `raftgres remove` end to end in one process: the CLI (its questions on stdin) → DELETE /cluster
 * of the real REST server → a real DcsStateMachine holding two scopes of one Raft group. The node
 * answering is pg1 of "main"; "reports" is another cluster of the same group whose agents stop.
 */
import type { AddressInfo } from "node:net";
import t, { type Test } from "tap";
import type { Scope } from "../../src/dcs/model.js";
import { cli } from "../cli/support.js";
import { status } from "../dcs/fixtures.js";
import { basic, cluster, server } from "./fixtures.js";

const REPORTS = "reports" as Scope;
const AUTH = { username: "admin", password: "secret" };
const CREDENTIALS = ["--username", AUTH.username, "--password", AUTH.password];
const AWARE = "Yes I am aware";

/** pg1 of main answers; "reports" (pg1..pg3 too) is bootstrapped in the same cluster state. */
async function started(t: Test) {
  const node = cluster("pg1");
  node.driver.bootstrap(REPORTS);
  const app = server(node, { authentication: AUTH });
  await app.listen({ host: "127.0.0.1", port: 0 });
  t.teardown(() => app.close());
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  /** The agents of "reports" stopped: its lease (30 s) and every report (ttl 5 s) run out. */
  const stopReports = (): void => {
    node.driver.advance(31_000);
    // main's members go on reporting meanwhile.
    for (const name of ["pg1", "pg2", "pg3"]) node.driver.ok(name, { kind: "upsertMember", status: node.driver.scope().members.get(name as never) ?? status(name) });
  };
  return { node, app, url, stopReports };
}

t.test("DELETE /cluster: authenticated, the cluster named in the body, refused while its agents run", async (t) => {
  const { node, app, stopReports } = await started(t);
  const remove = (payload: unknown, authorization: string | null = basic(AUTH.username, AUTH.password)) =>
    app.inject({ method: "DELETE", url: "/cluster", payload: payload as never, headers: authorization === null ? {} : { authorization } });
  t.equal((await remove({ cluster: "reports" }, null)).statusCode, 401, "a write: credentials required");
  const noName = await remove({});
  t.equal(noName.statusCode, 400);
  t.match(noName.json(), { error: "badRequest", message: /must name the cluster to remove, \{"cluster": "<scope>"\} \(this node serves main\)/ });
  t.match((await remove({ cluster: "bad name!" })).json(), { error: "badRequest", message: /cluster "bad name!" is not a valid cluster name/ });
  t.match((await remove({ cluster: "reports", leader: "pg1" })).json(), { error: "badRequest", message: /unknown key "leader" \(known: cluster\)/ });
  const held = await remove({ cluster: "reports" });
  t.equal(held.statusCode, 409);
  t.match(held.json(), { error: "conflict", message: /^the cluster state of reports was not removed: pg1 holds the leader lease of reports until .*: stop the agents of reports first/ });
  const own = await remove({ cluster: "main" });
  t.equal(own.statusCode, 409, "the node's own cluster: its lease is held and its agent reports");
  const unknown = await remove({ cluster: "nothing" });
  t.equal(unknown.statusCode, 404);
  t.match(unknown.json(), { error: "notFound", message: /holds nothing for scope nothing/ });
  stopReports();
  node.driver.ok("pg2", { kind: "upsertMember", status: status("pg2") }, REPORTS);
  const reporting = await remove({ cluster: "reports" });
  t.equal(reporting.statusCode, 409);
  t.match(reporting.json(), { error: "conflict", message: /pg2 still reports \(within the ttl of 5 s\): stop the agents of reports first/ });
  node.driver.advance(6000);
  const removed = await remove({ cluster: "reports" });
  t.equal(removed.statusCode, 200, removed.body);
  t.match(removed.json(), { message: /^the cluster state of reports was removed/ });
  t.notOk(node.driver.machine.state.scopes.has(REPORTS), "reports is gone");
  t.ok(node.driver.machine.state.scopes.has("main" as Scope), "main is untouched");
  t.same(node.executed.at(-1), { command: { kind: "removeScope" }, author: "api:admin" }, "recorded as the API user's");
});

t.test("raftgres remove asks patronictl's questions, then removes a stopped cluster", async (t) => {
  const { node, url, stopReports } = await started(t);
  const run = (input: string[], cluster = "reports") => cli(["--url", url, ...CREDENTIALS, "remove", cluster], { input });
  const wrongName = await run(["report"]);
  t.equal(wrongName.code, 1);
  t.match(wrongName.stdout, /Cluster reports is not the one of the node answering \(main\)/);
  t.match(wrongName.stdout, /Please confirm the cluster name to remove: $/);
  t.match(wrongName.stderr, "Cluster names specified do not match");
  const notAware = await run(["reports", "yes"]);
  t.equal(notAware.code, 1);
  t.match(notAware.stdout, `You are about to remove all information in the cluster state for reports, please type: "${AWARE}": `);
  t.match(notAware.stderr, `You did not exactly type "${AWARE}"`);
  const noInput = await run([]);
  t.equal(noInput.code, 1);
  t.match(noInput.stderr, /end of input\): remove asks, and takes its answers from stdin/);
  t.ok(node.driver.machine.state.scopes.has(REPORTS), "nothing removed so far");
  const running = await run(["reports", AWARE]);
  t.equal(running.code, 1, "its agents run: refused by the cluster state");
  t.match(running.stderr, /remove reports failed \(HTTP 409 from .*\): the cluster state of reports was not removed: pg1 holds the leader lease of reports/);
  stopReports();
  node.driver.advance(6000);
  const done = await run(["reports", AWARE]);
  t.equal(done.code, 0, done.stderr);
  t.match(done.stdout, /Success: the cluster state of reports was removed/);
  t.notOk(node.driver.machine.state.scopes.has(REPORTS));
  const again = await run(["reports", AWARE]);
  t.equal(again.code, 1);
  t.match(again.stderr, /HTTP 404 .*holds nothing for scope reports/);
});

t.test("raftgres remove of the answering node's own cluster says why not before asking", async (t) => {
  const { node, url } = await started(t);
  const own = await cli(["--url", url, ...CREDENTIALS, "remove", "main"], { input: ["main", AWARE] });
  t.equal(own.code, 1);
  t.match(own.stdout, /\+ Cluster: main /, "the member table first, as patronictl prints it");
  t.notMatch(own.stdout, /Please confirm/, "no question asked");
  t.match(own.stderr, "cannot remove main: pg1, pg2, pg3 still report (their agents run), the node answering among them.");
  t.match(own.stderr, "If the Raft group serves only main, its agents are the whole cluster state: stop them and delete their raft data directories to start over.");
  t.ok(node.driver.machine.state.scopes.has("main" as Scope));
  const usage = await cli(["--url", url, "remove", "bad name"]);
  t.equal(usage.code, 2);
  t.match(usage.stderr, /"bad name" is not a cluster name/);
  const help = await cli(["remove", "--help"]);
  t.equal(help.code, 0);
  t.match(help.stdout, /Every agent of the cluster must be stopped first/);
});
