/**
 * `raftgres members` against a fake node: the table and formats, what each change sends, the
 * confirmation, and the exit codes (0 ok, 1 refused, 2 usage, 3 unreachable).
 */
import t from "tap";
import { cli, FakeNode } from "./support.js";

function raftBody(node: string, leaderUrl: string, extra: Record<string, unknown>[] = []): unknown {
  return {
    node, role: node === "pg1" ? "leader" : "follower", term: 4, leader: "pg1", leader_api_url: leaderUrl, commit_index: 120,
    members: [
      { id: "pg1", address: "10.0.0.1:7000", role: "voter", is_leader: true, match_index: node === "pg1" ? 120 : null, last_contact_ms: null, api_url: leaderUrl },
      { id: "pg2", address: "10.0.0.2:7000", role: "voter", is_leader: false, match_index: node === "pg1" ? 120 : null, last_contact_ms: 12, api_url: leaderUrl },
      { id: "pg3", address: "10.0.0.3:7000", role: "voter", is_leader: false, match_index: node === "pg1" ? 118 : null, last_contact_ms: 40, api_url: leaderUrl },
      ...extra,
    ],
  };
}

async function leaderAndFollower(): Promise<{ leader: FakeNode; follower: FakeNode }> {
  const leader = await FakeNode.start();
  leader.on("GET", "/raft", () => ({ status: 200, body: raftBody("pg1", leader.url, [{ id: "w1", address: "10.0.0.9:7000", role: "learner", is_leader: false, match_index: 3, last_contact_ms: 5 }]) }));
  const follower = await FakeNode.start();
  follower.on("GET", "/raft", () => ({ status: 200, body: raftBody("pg2", leader.url) }));
  return { leader, follower };
}

t.test("members lists the Raft group as its leader sees it, in every format", async (t) => {
  const { leader, follower } = await leaderAndFollower();
  t.teardown(async () => Promise.all([leader.close(), follower.close()]));
  const r = await cli(["--url", follower.url, "members"]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, "+ Raft: term 4, commit 120, seen from pg1 ");
  t.match(r.stdout, "| pg1  | 10.0.0.1:7000 | voter   | *      |   120 |              |");
  t.match(r.stdout, "| pg3  | 10.0.0.3:7000 | voter   |        |   118 |    40 ms ago |");
  t.match(r.stdout, "| w1   | 10.0.0.9:7000 | learner |        |     3 |     5 ms ago |");
  const json = JSON.parse((await cli(["--url", follower.url, "members", "list", "-f", "json"])).stdout) as { Node: string; Role: string }[];
  t.same(json.map((m) => `${m.Node} ${m.Role}`), ["pg1 voter", "pg2 voter", "pg3 voter", "w1 learner"]);
  t.match((await cli(["--url", follower.url, "members", "-f", "yaml"])).stdout, "- Node: pg1\n  Address: 10.0.0.1:7000\n  Role: voter\n  Leader: \"*\"");
  // The leader unreachable: the follower's own view.
  await leader.close();
  const own = await cli(["--url", follower.url, "members"]);
  t.equal(own.code, 0);
  t.match(own.stdout, "seen from pg2");
});

t.test("members add sends the name, address and role; --learner adds a learner", async (t) => {
  const { leader, follower } = await leaderAndFollower();
  t.teardown(async () => Promise.all([leader.close(), follower.close()]));
  follower.on("POST", "/raft/members", () => ({ status: 200, body: { message: "w1 (10.0.0.9:7000) is a voter of the Raft group" } }));
  const r = await cli(["--url", follower.url, "members", "add", "w1", "10.0.0.9:7000"]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^\d{4}-\d\d-\d\d [\d:.]+\+00:00 w1 \(10\.0\.0\.9:7000\) is a voter of the Raft group\n\+ Raft: /);
  t.same(follower.sent("POST", "/raft/members").map((x) => x.body), [{ name: "w1", address: "10.0.0.9:7000", role: "voter" }]);
  t.equal((await cli(["--url", follower.url, "members", "add", "w2", "10.0.0.8:7000", "--learner"])).code, 0);
  t.same(follower.sent("POST", "/raft/members")[1]?.body, { name: "w2", address: "10.0.0.8:7000", role: "learner" });
  const usage = await cli(["--url", follower.url, "members", "add", "w3", "10.0.0.8"]);
  t.equal(usage.code, 2);
  t.match(usage.stderr, /"10\.0\.0\.8" is not host:port/);
  t.equal((await cli(["--url", follower.url, "members", "add", "w3"])).code, 2);
});

t.test("members remove asks first unless --force; a refusal exits 1 with the server's words", async (t) => {
  const { leader, follower } = await leaderAndFollower();
  t.teardown(async () => Promise.all([leader.close(), follower.close()]));
  follower.on("DELETE", "/raft/members/pg3", () => ({ status: 200, body: { message: "pg3 was removed from the Raft group (members: pg1, pg2)" } }));
  follower.on("DELETE", "/raft/members/w9", () => ({ status: 404, body: { error: "notFound", message: "w9 is not a member of the Raft group (members: pg1, pg2, pg3)" } }));
  const no = await cli(["--url", follower.url, "members", "remove", "pg3"], { input: ["n"] });
  t.equal(no.code, 1);
  t.match(no.stdout, "Are you sure you want to remove pg3 (voter at 10.0.0.3:7000) from the Raft group; pg3 runs an agent, which loses the cluster state without it? [y/N]: ");
  t.same(follower.sent("DELETE", "/raft/members/pg3"), []);
  const yes = await cli(["--url", follower.url, "members", "remove", "pg3"], { input: ["y"] });
  t.equal(yes.code, 0, yes.stderr);
  t.match(yes.stdout, "pg3 was removed from the Raft group");
  const unknown = await cli(["--url", follower.url, "members", "remove", "w9"]);
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, "w9 is not a member of the Raft group");
  const forced = await cli(["--url", follower.url, "members", "remove", "w9", "--force"]);
  t.equal(forced.code, 1);
  t.match(forced.stderr, "members remove failed (HTTP 404 from");
  t.match(forced.stderr, "w9 is not a member of the Raft group (members: pg1, pg2, pg3)");
});

t.test("members transfer posts the target; unreachable nodes exit 3", async (t) => {
  const { leader, follower } = await leaderAndFollower();
  t.teardown(async () => Promise.all([leader.close(), follower.close()]));
  follower.on("POST", "/raft/transfer", (request) => ({ status: 200, body: { message: `the Raft leadership moved from pg1 to ${String((request.body as { to: string }).to)} (term 5)` } }));
  const r = await cli(["--url", follower.url, "members", "transfer", "pg2"]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, "the Raft leadership moved from pg1 to pg2 (term 5)");
  t.same(follower.sent("POST", "/raft/transfer").map((x) => x.body), [{ to: "pg2" }]);
  t.equal((await cli(["--url", "http://127.0.0.1:1", "members", "transfer", "pg2"])).code, 3);
});
