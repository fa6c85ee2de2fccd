import t from "tap";
import type { FastifyInstance } from "fastify";
import { status } from "../dcs/fixtures.js";
import { basic, cluster, server, type TestNode } from "./fixtures.js";

const json = { "content-type": "application/json" };
const FAST = { switchoverWaitMs: 400, pollIntervalMs: 10, raftCatchUpWaitMs: 100, raftTransferWaitMs: 100 };

async function call(node: TestNode, method: "GET" | "POST" | "DELETE", url: string, payload?: unknown) {
  const app = server(node, { timing: FAST });
  const answer = await app.inject({ method, url, ...(payload === undefined ? {} : { headers: json, payload: JSON.stringify(payload) }) });
  await app.close();
  return { status: answer.statusCode, body: answer.json() as Record<string, unknown> };
}

t.test("GET /raft shows every member with its role, match index and contact, the leader, term and commit", async (t) => {
  const answer = await call(cluster(), "GET", "/raft");
  t.equal(answer.status, 200);
  t.match(answer.body, { node: "pg1", role: "leader", term: 3, leader: "pg1", leader_api_url: "http://pg1:8008/patroni", commit_index: 42 });
  t.same(answer.body["members"], [
    { id: "pg1", address: "127.0.0.1:7001", role: "voter", is_leader: true, match_index: 42, last_contact_ms: null, api_url: "http://pg1:8008/patroni" },
    { id: "pg2", address: "127.0.0.1:7002", role: "voter", is_leader: false, match_index: 42, last_contact_ms: 10, api_url: "http://pg2:8008/patroni" },
    { id: "pg3", address: "127.0.0.1:7003", role: "voter", is_leader: false, match_index: 40, last_contact_ms: 10, api_url: "http://pg3:8008/patroni" },
  ]);
});

t.test("POST /raft/members adds a learner, waits until it caught up, then promotes it to voter", async (t) => {
  const node = cluster();
  const answer = await call(node, "POST", "/raft/members", { name: "w1", address: "127.0.0.1:7009" });
  t.equal(answer.status, 200);
  t.match(answer.body["message"], /w1 \(127\.0\.0\.1:7009\) is a voter of the Raft group: it caught up as a learner and was promoted \(voters: pg1, pg2, pg3, w1\)/);
  t.same(node.membershipChanges.map((c) => `${c.kind} ${c.id} ${c.address}`), ["addLearner w1 127.0.0.1:7009", "addVoter w1 127.0.0.1:7009"]);
});

t.test("role learner stops after the first step; adding it again as a voter promotes it", async (t) => {
  const node = cluster();
  const learner = await call(node, "POST", "/raft/members", { name: "w1", address: "127.0.0.1:7009", role: "learner" });
  t.equal(learner.status, 200);
  t.match(learner.body["message"], /w1 \(127\.0\.0\.1:7009\) is a learner/);
  t.equal(node.raft.members.find((x) => x.id === "w1")?.role, "learner");
  const voter = await call(node, "POST", "/raft/members", { name: "w1", address: "127.0.0.1:7009" });
  t.equal(voter.status, 200);
  t.same(node.membershipChanges.map((c) => c.kind), ["addLearner", "addVoter"]);
});

t.test("a learner that does not catch up in time is removed again: 503 naming its match and address", async (t) => {
  const node = cluster();
  node.learnerMatch = 3;
  node.raft = { ...node.raft, commitIndex: 1000 };
  const answer = await call(node, "POST", "/raft/members", { name: "w1", address: "127.0.0.1:7009" });
  t.equal(answer.status, 503);
  t.match(answer.body["message"], /w1 did not catch up within 0 s \(its match index is 3, the commit index 1000\): is it running and is 127\.0\.0\.1:7009 its Raft address\?; it was removed again/);
  t.same(node.membershipChanges.map((c) => c.kind), ["addLearner", "remove"]);
  t.notOk(node.raft.members.some((x) => x.id === "w1"));
});

t.test("bad additions are refused with 400 or 409 and change nothing", async (t) => {
  const cases: [unknown, number, RegExp][] = [
    [{ name: "pg2", address: "127.0.0.1:7002" }, 409, /pg2 is already a voter of the Raft group \(members: pg1, pg2, pg3\)/],
    [{ name: "w 1", address: "127.0.0.1:7009" }, 400, /name "w 1" is not a valid node name/],
    [{ address: "127.0.0.1:7009" }, 400, /name must be a node name/],
    [{ name: "w1", address: "127.0.0.1" }, 400, /address must be the node's Raft address as host:port/],
    [{ name: "w1", address: "127.0.0.1:70000" }, 400, /host:port/],
    [{ name: "w1", address: "127.0.0.1:7009", role: "observer" }, 400, /role must be "voter" or "learner"/],
  ];
  for (const [body, code, message] of cases) {
    const node = cluster();
    const answer = await call(node, "POST", "/raft/members", body);
    t.equal(answer.status, code, JSON.stringify(body));
    t.match(answer.body["message"], message);
    t.same(node.membershipChanges, []);
  }
});

t.test("a refusal of the Raft node is answered from the catalogue", async (t) => {
  const node = cluster();
  node.membershipFailure = { code: "busy", message: "another membership change is still in progress; retry when it has committed" };
  const answer = await call(node, "POST", "/raft/members", { name: "w1", address: "127.0.0.1:7009" });
  t.same(answer, { status: 409, body: { error: "conflict", message: "cannot add w1 as a learner: another membership change is still in progress; retry when it has committed" } });
});

t.test("DELETE /raft/members/:name removes a member; unknown 404, the leader itself and the last voter 409", async (t) => {
  const node = cluster();
  const removed = await call(node, "DELETE", "/raft/members/pg3");
  t.same(removed, { status: 200, body: { message: "pg3 was removed from the Raft group (members: pg1, pg2)" } });
  t.same(node.membershipChanges, [{ kind: "remove", id: "pg3", address: "" }]);
  const unknown = await call(node, "DELETE", "/raft/members/w9");
  t.same(unknown, { status: 404, body: { error: "notFound", message: "w9 is not a member of the Raft group (members: pg1, pg2)" } });
  const leader = await call(node, "DELETE", "/raft/members/pg1");
  t.equal(leader.status, 409);
  t.match(leader.body["message"], /pg1 is the Raft leader: hand the leadership to another voter first \(raftgres members transfer <node>/);
  node.raft = { ...node.raft, members: node.raft.members.filter((x) => x.id === "pg1") };
  t.equal((await call(node, "DELETE", "/raft/members/pg1")).status, 409);
});

t.test("a removal that would leave no reachable majority of voters is refused", async (t) => {
  const node = cluster();
  node.raft = { ...node.raft, members: node.raft.members.map((x) => (x.id === "pg2" ? { ...x, lastContactMs: null } : x)) };
  const answer = await call(node, "DELETE", "/raft/members/pg3");
  t.equal(answer.status, 409);
  t.match(answer.body["message"], /removing pg3 would leave the voters pg1, pg2, of which only pg1 answered in the last 5 s: no majority/);
  t.same(node.membershipChanges, []);
});

t.test("POST /raft/transfer moves the Raft leadership and waits for it; unknown, learner and stuck transfers are refused", async (t) => {
  const node = cluster();
  t.same(await call(node, "POST", "/raft/transfer", { to: "pg2" }), { status: 200, body: { message: "the Raft leadership moved from pg1 to pg2 (term 4)" } });
  t.same(await call(node, "POST", "/raft/transfer", { to: "pg2" }), { status: 200, body: { message: "pg2 is already the Raft leader (term 4)" } });
  const unknown = await call(node, "POST", "/raft/transfer", { to: "w9" });
  t.same(unknown, { status: 400, body: { error: "badRequest", message: "w9 is not a member of the Raft group (members: pg1, pg2, pg3)" } });
  node.raft = { ...node.raft, members: [...node.raft.members, { id: "w1", address: "127.0.0.1:7009", role: "learner", isLeader: false, matchIndex: null, lastContactMs: 5 }] };
  t.match((await call(node, "POST", "/raft/transfer", { to: "w1" })).body["message"], /w1 is a learner: only a voter can become the Raft leader/);
  t.equal((await call(node, "POST", "/raft/transfer", {})).status, 400);
  node.transferMoves = false;
  const stuck = await call(node, "POST", "/raft/transfer", { to: "pg3" });
  t.equal(stuck.status, 503);
  t.match(stuck.body["message"], /the Raft leadership did not move to pg3 within 0 s \(the leader is pg2, term 4\)/);
});

/** pg2, a follower, whose view of pg1's member record points at a real server for pg1. */
async function followerWithLeaderAt(leader: TestNode): Promise<{ follower: TestNode; leaderApp: FastifyInstance }> {
  const leaderApp = server(leader, { timing: FAST, authentication: { username: "admin", password: "secret" } });
  await leaderApp.listen({ host: "127.0.0.1", port: 0 });
  const address = leaderApp.server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  const follower = cluster("pg2");
  follower.driver.ok("pg1", { kind: "upsertMember", status: status("pg1", { role: "primary", state: "running", apiUrl: `http://127.0.0.1:${address.port}` }) });
  return { follower, leaderApp };
}

t.test("a follower forwards membership changes to the Raft leader's REST API, with the caller's credentials", async (t) => {
  const leader = cluster("pg1");
  const { follower, leaderApp } = await followerWithLeaderAt(leader);
  t.teardown(() => leaderApp.close());
  const app = server(follower, { timing: FAST, authentication: { username: "admin", password: "secret" } });
  t.teardown(() => app.close());
  const added = await app.inject({ method: "POST", url: "/raft/members", headers: { ...json, authorization: basic("admin", "secret") }, payload: JSON.stringify({ name: "w1", address: "127.0.0.1:7009" }) });
  t.equal(added.statusCode, 200, added.body);
  t.same(leader.membershipChanges.map((c) => c.kind), ["addLearner", "addVoter"]);
  t.same(follower.membershipChanges, []);
  const removed = await app.inject({ method: "DELETE", url: "/raft/members/w1", headers: { authorization: basic("admin", "secret") } });
  t.same(removed.json(), { message: "w1 was removed from the Raft group (members: pg1, pg2, pg3)" });
  const unauthenticated = await app.inject({ method: "DELETE", url: "/raft/members/pg3" });
  t.equal(unauthenticated.statusCode, 401);
  t.equal(leader.membershipChanges.length, 3);
});

t.test("a forwarded request that meets a follower, or a leader without a REST API, answers 503 saying where to go", async (t) => {
  const follower = cluster("pg2");
  const app = server(follower, { timing: FAST });
  t.teardown(() => app.close());
  const again = await app.inject({ method: "DELETE", url: "/raft/members/pg3", headers: { "x-raftgres-forwarded-by": "pg3" } });
  t.equal(again.statusCode, 503);
  t.match(again.json().message, /pg2 received this request from pg3 as the Raft leader, but the leader is now pg1: retry/);
  follower.raft = { ...follower.raft, leader: "w1" };
  const witness = await app.inject({ method: "DELETE", url: "/raft/members/pg3" });
  t.equal(witness.statusCode, 503);
  t.match(witness.json().message, /the Raft leader, w1, and it publishes no REST API/);
  follower.raft = { ...follower.raft, leader: "pg1" };
  follower.driver.ok("pg1", { kind: "upsertMember", status: status("pg1", { role: "primary", state: "running", apiUrl: "http://127.0.0.1:1" }) });
  const down = await app.inject({ method: "DELETE", url: "/raft/members/pg3" });
  t.equal(down.statusCode, 503);
  t.match(down.json().message, /cannot forward this request to it at http:\/\/127\.0\.0\.1:1 \(.*\): send it there/);
  t.same(follower.membershipChanges, []);
});
