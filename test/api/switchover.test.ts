import t from "tap";
import type { Lsn, MemberName } from "../../src/dcs/model.js";
import { m } from "../dcs/fixtures.js";
import { cluster, server, type TestNode } from "./fixtures.js";

const json = { "content-type": "application/json" };

/** The HA loops' part of a switchover: the primary releases the lease, the target takes it. */
function carryOut(node: TestNode): void {
  node.onWake = () => {
    const pending = node.view()?.pending;
    if (pending === null || pending === undefined) return;
    const lease = node.view()!.lease!;
    const to: MemberName = pending.to ?? m("pg3");
    node.driver.ok(lease.holder, { kind: "releaseLease", member: lease.holder, generation: lease.generation });
    node.driver.ok(to, { kind: "acquireLease", member: to, ttlMs: 30_000 });
  };
}

async function post(node: TestNode, path: string, payload: unknown) {
  const app = server(node);
  const answer = await app.inject({ method: "POST", url: path, headers: json, payload: JSON.stringify(payload) });
  await app.close();
  return { status: answer.statusCode, body: answer.json() };
}

t.test("a switchover to a healthy replica waits for it to take the lease: 200", async (t) => {
  const node = cluster();
  carryOut(node);
  const answer = await post(node, "/switchover", { leader: "pg1", candidate: "pg2" });
  t.same(answer, { status: 200, body: { message: 'Successfully switched over to "pg2"' } });
  t.same(node.executed.map((e) => e.command), [{ kind: "requestSwitchover", from: "pg1", to: "pg2", scheduledAtMs: null }]);
  t.equal(node.view()!.lease!.holder, "pg2");
});

t.test("a switchover without a candidate reports who took over; 'member' names the candidate too", async (t) => {
  const node = cluster();
  carryOut(node);
  t.same(await post(node, "/switchover", { leader: "pg1" }), { status: 200, body: { message: 'Successfully switched over to "pg3"' } });
  const other = cluster();
  other.onWake = () => {
    other.driver.ok("pg1", { kind: "releaseLease", member: m("pg1"), generation: 1 });
    other.driver.ok("pg3", { kind: "acquireLease", member: m("pg3"), ttlMs: 30_000 });
  };
  t.same(await post(other, "/switchover", { leader: "pg1", member: "pg2" }), { status: 200, body: { message: 'Switched over to "pg3" instead of "pg2"' } });
});

t.test("a switchover nobody carries out answers 503 saying what is pending", async (t) => {
  const node = cluster();
  const answer = await post(node, "/switchover", { leader: "pg1", candidate: "pg2" });
  t.equal(answer.status, 503);
  t.match(answer.body, { error: "actionFailed", message: /Switchover status unknown: .* pg1 still holds the lease; the switchover to pg2 is still pending/ });
});

t.test("bad requests are refused with 400 and change nothing", async (t) => {
  const cases: [string, unknown, RegExp][] = [
    ["/switchover", { candidate: "pg2" }, /only from a specific leader/],
    ["/switchover", { leader: "pg1", candidate: "pg1" }, /target and source are the same/],
    ["/switchover", { leader: 7 }, /leader must be a member name/],
    ["/switchover", { leader: "pg1", candidate: ["pg2"] }, /candidate must be a member name/],
    ["/switchover", { leader: "pg 1" }, /not a valid member name/],
    ["/failover", { leader: "pg1" }, /only to a specific candidate/],
    ["/failover", { candidate: "pg2", scheduled_at: "2099-01-01T00:00:00Z" }, /Failover can't be scheduled/],
    ["/switchover", { leader: "pg1", scheduled_at: "2099-01-01T10:00:00" }, /Timezone information is mandatory/],
    ["/switchover", [1], /must be a JSON object/],
  ];
  for (const [path, payload, message] of cases) {
    const node = cluster();
    const answer = await post(node, path, payload);
    t.equal(answer.status, 400, `${path} ${JSON.stringify(payload)}`);
    t.match(answer.body, { error: "badRequest", message });
    t.same(node.executed, [], "nothing executed");
  }
});

t.test("a switchover nobody could carry out is refused with 412 and the reason of each candidate", async (t) => {
  const unknown = await post(cluster(), "/switchover", { leader: "pg1", candidate: "pg9" });
  t.equal(unknown.status, 412);
  t.match(unknown.body, { error: "notPossible", message: /pg9 is not a member of the cluster/, candidates: [{ member: "pg9", reason: "pg9 is not a member of the cluster" }] });

  const lagging = cluster();
  lagging.driver.ok("pg1", { kind: "upsertMember", status: { ...lagging.driver.scope().members.get(m("pg1"))!, walWritten: 50_000_000n as Lsn } });
  const answer = await post(lagging, "/switchover", { leader: "pg1", candidate: "pg2" });
  t.equal(answer.status, 412);
  t.match(answer.body, { candidates: [{ member: "pg2", reason: /pg2 is 49999000 bytes behind the primary \(maximum_lag_on_failover is 1048576\)/ }] });
  const none = await post(lagging, "/switchover", { leader: "pg1" });
  t.equal(none.status, 412);
  t.equal(none.body.candidates.length, 2, "every replica's reason");

  const starting = cluster();
  starting.driver.ok("pg2", { kind: "upsertMember", status: { ...starting.driver.scope().members.get(m("pg2"))!, state: "starting" } });
  t.match(await post(starting, "/switchover", { leader: "pg1", candidate: "pg2" }), { status: 412, body: { message: /pg2 is not streaming \(state: starting\)/ } });

  const wrongLeader = await post(cluster(), "/switchover", { leader: "pg2", candidate: "pg3" });
  t.equal(wrongLeader.status, 412);
  t.match(wrongLeader.body, { message: /^leader name does not match: pg2 is not the primary of main; pg1 is/ });
});

t.test("in priority synchronous mode only a synchronous standby may take over", async (t) => {
  const node = cluster();
  node.driver.ok("pg1", { kind: "setConfig", expectedVersion: 0, mode: "patch", value: { synchronous_mode: true } });
  node.driver.ok("pg1", { kind: "setSyncState", expectedVersion: null, leader: m("pg1"), standbys: [m("pg2")], quorum: 1 });
  const answer = await post(node, "/switchover", { leader: "pg1", candidate: "pg3" });
  t.equal(answer.status, 412);
  t.match(answer.body.message, /candidate name does not match with sync_standby/);
});

t.test("a scheduled switchover is recorded and answered 202; a past or unreadable one 422", async (t) => {
  const node = cluster();
  const answer = await post(node, "/switchover", { leader: "pg1", candidate: "pg2", scheduled_at: "2099-06-01T12:00:00+02:00" });
  t.same(answer, { status: 202, body: { message: "Switchover scheduled" } });
  t.equal(node.view()!.pending!.scheduledAtMs, Date.parse("2099-06-01T10:00:00Z"));
  t.match(await post(cluster(), "/switchover", { leader: "pg1", scheduled_at: "2020-01-01T00:00:00Z" }), { status: 422, body: { error: "badSchedule", message: /Cannot schedule switchover in the past/ } });
  t.match(await post(cluster(), "/switchover", { leader: "pg1", scheduled_at: "next tuesday" }), { status: 422, body: { message: /Unable to parse scheduled timestamp/ } });
  const paused = cluster();
  paused.driver.ok("api", { kind: "setPause", paused: true });
  t.match(await post(paused, "/switchover", { leader: "pg1", candidate: "pg2", scheduled_at: "2099-06-01T12:00:00Z" }), { status: 400, body: { message: /Can't schedule switchover in the paused state/ } });
  t.match(await post(paused, "/switchover", { leader: "pg1" }), { status: 400, body: { message: /only to a specific candidate in a paused state/ } });
});

t.test("a second request while one is pending is refused with 409", async (t) => {
  const node = cluster();
  t.equal((await post(node, "/switchover", { leader: "pg1", candidate: "pg2", scheduled_at: "2099-06-01T12:00:00Z" })).status, 202);
  const again = await post(node, "/switchover", { leader: "pg1", candidate: "pg3" });
  t.equal(again.status, 409);
  t.match(again.body, { error: "conflict", message: /already pending/ });
});

t.test("DELETE /switchover cancels the scheduled one: 200, then 404", async (t) => {
  const node = cluster();
  const app = server(node);
  t.equal((await app.inject({ method: "DELETE", url: "/switchover" })).statusCode, 404);
  await app.inject({ method: "POST", url: "/switchover", headers: json, payload: { leader: "pg1", candidate: "pg2", scheduled_at: "2099-06-01T12:00:00Z" } });
  const deleted = await app.inject({ method: "DELETE", url: "/switchover" });
  t.equal(deleted.statusCode, 200);
  t.match(deleted.json(), { message: /^scheduled switchover deleted/ });
  t.equal(node.view()!.pending, null);
  t.equal((await app.inject({ method: "DELETE", url: "/switchover" })).statusCode, 404);
  await app.close();
});

t.test("a failover names its candidate; with a leader it is a switchover", async (t) => {
  const node = cluster();
  carryOut(node);
  t.same(await post(node, "/failover", { candidate: "pg3" }), { status: 200, body: { message: 'Successfully failed over to "pg3"' } });
  t.same(node.executed[0]!.command, { kind: "requestFailover", to: "pg3", allowDataLoss: false });
  const loss = cluster();
  carryOut(loss);
  t.equal((await post(loss, "/failover", { candidate: "pg3", allow_data_loss: true })).status, 200);
  t.same(loss.executed[0]!.command, { kind: "requestFailover", to: "pg3", allowDataLoss: true }, "allow_data_loss is carried to the cluster state");
  t.equal((await post(loss, "/switchover", { leader: "pg1", candidate: "pg3", allow_data_loss: true })).status, 400, "a switchover never loses data");
  const other = cluster();
  carryOut(other);
  t.same(await post(other, "/failover", { leader: "pg1", candidate: "pg2" }), { status: 200, body: { message: 'Successfully switched over to "pg2"' } });
  t.equal(other.executed[0]!.command.kind, "requestSwitchover");
});

t.test("when the Raft log cannot take the request: 503", async (t) => {
  const node = cluster();
  node.executeFailure = { code: "outcomeUnknown", message: "the cluster state could not be updated: timeout" };
  const answer = await post(node, "/switchover", { leader: "pg1", candidate: "pg2" });
  t.equal(answer.status, 503);
  t.match(answer.body, { error: "dcsUnavailable" });
});
