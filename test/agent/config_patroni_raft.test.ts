import { either as E } from "fp-ts";
import t from "tap";
import { type AgentConfig, parseAgentConfig } from "../../src/agent/config.js";
import { PATRONI_RAFT_KEYS } from "../../src/agent/config_patroni_raft.js";

/** A node file whose raft section is the test's; the rest is valid. */
function file(raft: string): string {
  return `
scope: main
name: pg1
restapi: { listen: 127.0.0.1:8008 }
raft:
${raft.trim().split("\n").map((line) => `  ${line.trim()}`).join("\n")}
postgresql:
  listen: 127.0.0.1:5432
  data_dir: /var/lib/raftgres/pg
  authentication:
    superuser: { username: postgres, password: pw }
    replication: { username: replicator, password: rpw }
`;
}

const MEMBERS = 'members: { pg1: "10.0.0.1:2222", pg2: "10.0.0.2:2222", pg3: "10.0.0.3:2222" }';
const OURS = `data_dir: /var/lib/raftgres/raft\ncluster_id: main\nsecret: s3cret-s3cret\n${MEMBERS}`;

/** The config of a file that must be accepted (the test fails with the problems otherwise). */
function accepted(text: string): AgentConfig {
  const parsed = parseAgentConfig(text, "node1.yml");
  if (E.isLeft(parsed)) throw new Error(`refused:\n${parsed.left}`);
  return parsed.right;
}

/** The problem lines of a file that must be refused (["accepted"] when it was not). */
function refusal(text: string): string[] {
  const parsed = parseAgentConfig(text, "node1.yml");
  if (E.isRight(parsed)) return ["accepted"];
  const lines = parsed.left.split("\n");
  return lines.length === 1 ? lines : lines.slice(1);
}

t.test("Patroni's raft keys become ours, one line each saying what it became", async (t) => {
  const config = accepted(file(`self_addr: 10.0.0.1:2222\npartner_addrs: [10.0.0.2:2222, 10.0.0.3:2222]\nmin_timeout: 0.4\nappend_entries_period: 0.1\n${OURS}`));
  t.same(config.raft.listen, { host: "10.0.0.1", port: 2222 }, "self_addr is where this node listens");
  t.equal(config.raft.electionTimeoutMs, 400);
  t.equal(config.raft.heartbeatMs, 100);
  t.equal(config.raft.dataDir, "/var/lib/raftgres/raft", "data_dir is the same key in both");
  t.same([...config.raft.members.keys()], ["pg1", "pg2", "pg3"]);
  t.same(config.warnings, [
    'node1.yml: raft.self_addr: Patroni\'s key, read as raft.listen: "10.0.0.1:2222"; the same as raft.members.pg1',
    "node1.yml: raft.partner_addrs: Patroni's key, the same addresses as raft.members, which raftgres uses",
    "node1.yml: raft.min_timeout: Patroni's key, read as raft.election_timeout_ms: 400 (an election waits a random time from 400 to 800 ms)",
    "node1.yml: raft.append_entries_period: Patroni's key, read as raft.heartbeat_ms: 100 (the Raft leader's heartbeat interval)",
  ]);
});

t.test("bind_addr is where this node listens; self_addr is then only its address in raft.members", async (t) => {
  const config = accepted(file(`bind_addr: 0.0.0.0:2222\nself_addr: 10.0.0.1:2222\n${OURS}`));
  t.same(config.raft.listen, { host: "0.0.0.0", port: 2222 });
  t.same(config.warnings, [
    'node1.yml: raft.bind_addr: Patroni\'s key, read as raft.listen: "0.0.0.0:2222"',
    "node1.yml: raft.self_addr: Patroni's key, the same as raft.members.pg1",
  ]);
  const joining = accepted(file(`listen: 0.0.0.0:7001\nself_addr: 10.0.0.1:7001\npartner_addrs: [10.0.0.2:2222]\n${OURS.replace(MEMBERS, 'join: { pg2: "10.0.0.2:2222" }')}`));
  t.same(joining.warnings, [
    "node1.yml: raft.self_addr: Patroni's key, not used: this node listens on raft.listen and the other members reach it at the address they list for it",
    "node1.yml: raft.partner_addrs: Patroni's key, the same addresses as raft.join, which raftgres uses",
  ], "a joining node's partner_addrs are checked against join");
});

t.test("both spellings given and equal are accepted; disagreeing, each is a problem, all at once", async (t) => {
  const same = accepted(file(`listen: 10.0.0.1:2222\nbind_addr: 10.0.0.1:2222\nmin_timeout: 1\nelection_timeout_ms: 1000\nappend_entries_period: 0.25\nheartbeat_ms: 250\n${OURS}`));
  t.same(same.warnings, [
    "node1.yml: raft.bind_addr: Patroni's key, the same as raft.listen",
    "node1.yml: raft.min_timeout: Patroni's key, the same as raft.election_timeout_ms",
    "node1.yml: raft.append_entries_period: Patroni's key, the same as raft.heartbeat_ms",
  ]);
  const text = file(`listen: 0.0.0.0:7001\nbind_addr: 0.0.0.0:2222\nself_addr: 10.0.0.1:2223\npartner_addrs: [10.0.0.2:2222, 10.0.0.4:2222]\nmin_timeout: 2\nelection_timeout_ms: 1000\nappend_entries_period: 0.1\nheartbeat_ms: 250\n${OURS}`);
  t.same(refusal(text), [
    'node1.yml: raft.bind_addr: is "0.0.0.0:2222" but raft.listen is "0.0.0.0:7001": both are where this node listens for Raft; keep one',
    'node1.yml: raft.self_addr: is "10.0.0.1:2223" but raft.members.pg1 is "10.0.0.1:2222": both are where the other members reach this node; make them the same, or drop self_addr',
    "node1.yml: raft.partner_addrs: differs from raft.members: it has 10.0.0.4:2222, lacks 10.0.0.3:2222; raftgres uses raft.members (it knows each member by name): make them agree, or drop partner_addrs",
    "node1.yml: raft.min_timeout: is 2 s but raft.election_timeout_ms is 1000: both set the election timeout; keep one",
    "node1.yml: raft.append_entries_period: is 0.1 s but raft.heartbeat_ms is 250: both set the Raft leader's heartbeat interval; keep one",
  ]);
});

t.test("a patroni.yml raft section alone: every problem at once, each saying what to write", async (t) => {
  const lines = refusal(file("self_addr: 10.0.0.1:2222\npartner_addrs: [10.0.0.2:2222, 10.0.0.3:2222]\ndata_dir: /var/lib/patroni/raft\npassword: hello"));
  t.equal(lines.length, 4, lines.join("\n"));
  t.equal(lines[0], 'node1.yml: raft.members: is required: raftgres knows each Raft member by its name, and raft.partner_addrs (Patroni\'s) gives addresses only. Write members: { pg1: "10.0.0.1:2222", <name of 10.0.0.2:2222>: "10.0.0.2:2222", <name of 10.0.0.3:2222>: "10.0.0.3:2222" }, each name being that member\'s `name` setting (on a node joining a running group, join: { … } the same way, without this node)');
  t.match(lines[1], /^node1\.yml: raft\.password: Patroni encrypts the Raft traffic with it; raftgres authenticates .* does not encrypt .* rename password to secret .* `raftgres secret --out \/etc\/raftgres\/secret`/);
  t.match(lines[2], /^node1\.yml: raft\.cluster_id: is required: the Raft group's name, the same on every member/);
  t.match(lines[3], /^node1\.yml: raft\.secret_file: is required \(or secret, inline, at least 8 characters\): make one with `raftgres secret --out \/etc\/raftgres\/secret`, copy that file to every member/);
  const withSecret = refusal(file(`password: hello\n${OURS}`));
  t.match(withSecret, [/^node1\.yml: raft\.password: .*raft\.secret is that secret here: remove password$/], "beside a secret, password is only to be removed");
});

t.test("a bad value of a Patroni key is reported under that key", async (t) => {
  t.same(refusal(file(`self_addr: nope\nmin_timeout: 100\nappend_entries_period: fast\npartner_addrs: [10.0.0.2:2222, pg3]\n${OURS}`)), [
    'node1.yml: raft.self_addr: must be host:port, got "nope"',
    'node1.yml: raft.partner_addrs: "pg3" is not host:port',
    "node1.yml: raft.min_timeout: must be a number of seconds from 0.1 to 60, got 100",
    'node1.yml: raft.append_entries_period: must be a number of seconds from 0.01 to 10, got "fast"',
  ], "the reader's own check of listen does not repeat self_addr's problem");
});

t.test("pysyncobj tunables without a counterpart are accepted and reported with why", async (t) => {
  const config = accepted(file(`max_timeout: 1.4\nconnection_timeout: 3.5\nconnection_retry_time: 5\nleader_fallback_timeout: 30\nlisten: 10.0.0.1:2222\n${OURS}`));
  t.same(config.warnings, [
    "node1.yml: raft.max_timeout: a Patroni setting raftgres does not use; ignored: an election waits a random time from raft.election_timeout_ms to twice it",
    "node1.yml: raft.connection_timeout: a Patroni setting raftgres does not use; ignored: a Raft connection silent for 4 s is dropped",
    "node1.yml: raft.connection_retry_time: a Patroni setting raftgres does not use; ignored: raftgres redials after 50 ms, doubling up to 1 s",
    "node1.yml: raft.leader_fallback_timeout: a Patroni setting raftgres does not use; ignored: a Raft leader steps down after one election timeout without hearing from a majority",
  ]);
});

t.test("every key of Patroni's raft section (patroni/validator.py) is in the table, and none is an unknown key", async (t) => {
  const patroniKeys = ["self_addr", "bind_addr", "partner_addrs", "data_dir", "password", "min_timeout", "max_timeout", "connection_timeout", "append_entries_period", "connection_retry_time", "leader_fallback_timeout"];
  t.same(Object.keys(PATRONI_RAFT_KEYS).sort(), [...patroniKeys].sort());
  const all = file(`self_addr: 10.0.0.1:2222\nbind_addr: 10.0.0.1:2222\npartner_addrs: [10.0.0.2:2222, 10.0.0.3:2222]\npassword: x\nmin_timeout: 0.4\nmax_timeout: 1.4\nconnection_timeout: 3.5\nappend_entries_period: 0.1\nconnection_retry_time: 5\nleader_fallback_timeout: 30\n${OURS}`);
  t.same(refusal(all).map((line) => line.replace(/: .*/s, "")), ["node1.yml"], "only password is refused, for its meaning");
  t.match(refusal(all), [/^node1\.yml: raft\.password: /]);
});

t.test("the environment overrides a file's Patroni keys as it does ours", async (t) => {
  const parsed = parseAgentConfig(file(`self_addr: 10.0.0.1:2222\n${OURS}`), "node1.yml", { RAFTGRES_RAFT_LISTEN: "0.0.0.0:2222" });
  if (E.isLeft(parsed)) throw new Error(parsed.left);
  t.same(parsed.right.raft.listen, { host: "0.0.0.0", port: 2222 }, "self_addr does not take the place of listen set by RAFTGRES_RAFT_LISTEN");
  t.same(parsed.right.warnings, ["node1.yml: raft.self_addr: Patroni's key, the same as raft.members.pg1"]);
});
