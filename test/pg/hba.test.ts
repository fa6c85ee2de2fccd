/**
 * pg_hba.conf (hba.ts): the user's lines as given, then only what raftgres's own connections
 * need, from this host and the members' addresses; and the members' addresses as the agent
 * derives them (src/agent/hba_peers.ts).
 */
import t from "tap";
import { hbaPeerHosts, hostOfAddress, hostOfConnUrl } from "../../src/agent/hba_peers.js";
import type { ScopeView } from "../../src/dcs/views.js";
import { CLUSTER_HBA_LINES_MAX, ClusterHbaLines, hbaAddress, HbaPeers, renderHbaText, userHbaLines } from "../../src/pg/hba.js";

const base = { superuser: "postgres", replication: "replicator", pgHba: [], clusterPgHba: null, bootstrapPgHba: [], peers: [], self: "127.0.0.1" };

t.test("without the user's lines: the superuser and replication from this host and the members only", async (t) => {
  const text = renderHbaText({ ...base, peers: ["10.0.0.2", "10.0.0.3", "db4.example.com", "fe80::1", "127.0.0.1", "bad host"] });
  const rules = text.split("\n").filter((l) => l !== "" && !l.startsWith("#"));
  t.same(rules, [
    "local all all peer",
    ...["127.0.0.1/32", "::1/128", "10.0.0.2/32", "10.0.0.3/32", "db4.example.com", "fe80::1/128"].flatMap((a) => [`host all "postgres" ${a} scram-sha-256`, `host replication "replicator" ${a} scram-sha-256`]),
    'host postgres "replicator" 127.0.0.1/32 scram-sha-256',
    'host postgres "replicator" ::1/128 scram-sha-256',
  ]);
  t.notMatch(text, /0\.0\.0\.0\/0|::\/0|host all all/, "no line lets everybody in from anywhere");
});

t.test("a server listening on one address lets the agent in from there too", async (t) => {
  const text = renderHbaText({ ...base, self: "10.0.0.1" });
  t.match(text, /^host all "postgres" 10\.0\.0\.1\/32 scram-sha-256$/m);
  t.match(text, /^host postgres "replicator" 10\.0\.0\.1\/32 scram-sha-256$/m);
});

t.test("postgresql.pg_hba first and as given; bootstrap.pg_hba only without it", async (t) => {
  const own = renderHbaText({ ...base, pgHba: ["hostssl all app 10.0.0.0/8 scram-sha-256"], bootstrapPgHba: ["host all all 0.0.0.0/0 md5"] });
  t.match(own, /^# .*\n# .*\n# .*\nhostssl all app 10\.0\.0\.0\/8 scram-sha-256\n/);
  t.notMatch(own, /md5/);
  t.match(renderHbaText({ ...base, bootstrapPgHba: ["host all all 10.0.0.0/8 scram-sha-256"] }), /^# .*\n# .*\n# .*\nhost all all 10\.0\.0\.0\/8 scram-sha-256\n/);
});

t.test("the user's lines: node.yml's postgresql.pg_hba, else the cluster's, else bootstrap.pg_hba (Patroni: the local file wins)", async (t) => {
  const local = ["hostssl all app 10.0.0.0/8 scram-sha-256"];
  const cluster = ["host all app 10.1.0.0/16 scram-sha-256"];
  const bootstrap = ["host all all 10.2.0.0/16 md5"];
  t.same(userHbaLines({ pgHba: local, clusterPgHba: cluster, bootstrapPgHba: bootstrap }).lines, local, "node.yml's wins");
  t.same(userHbaLines({ pgHba: [], clusterPgHba: cluster, bootstrapPgHba: bootstrap }).lines, cluster, "then the cluster's");
  t.same(userHbaLines({ pgHba: [], clusterPgHba: [], bootstrapPgHba: bootstrap }).lines, [], "the cluster's empty list is a list: no lines of the user's");
  t.same(userHbaLines({ pgHba: [], clusterPgHba: null, bootstrapPgHba: bootstrap }).lines, bootstrap, "then bootstrap.pg_hba");
  const text = renderHbaText({ ...base, clusterPgHba: cluster });
  t.match(text, /^# The user's lines, from the cluster's postgresql\.pg_hba \(edit-config, bootstrap\.dcs\):\nhost all app 10\.1\.0\.0\/16 scram-sha-256\n# raftgres's own/m, "the file says where its lines come from");
  t.match(text, /^host all "postgres" 127\.0\.0\.1\/32 scram-sha-256$/m, "raftgres's own lines follow");
});

t.test("ClusterHbaLines keeps the cluster's lines, and refuses again what would harm the file", async (t) => {
  const lines = new ClusterHbaLines(null);
  t.equal(lines.set(["host all app 10.0.0.0/8 scram-sha-256"]), "changed");
  t.equal(lines.set(["host all app 10.0.0.0/8 scram-sha-256"]), "same");
  t.match(lines.set(["host all app 10.0.0.0/8 md5\nhost all all 0.0.0.0/0 trust"]), /postgresql\.pg_hba\[0\] .*control character/, "a second line smuggled in is refused");
  t.match(lines.set(Array(CLUSTER_HBA_LINES_MAX + 1).fill("local all all peer")), /more than 256/);
  t.same(lines.current(), ["host all app 10.0.0.0/8 scram-sha-256"], "a refusal keeps the lines in force");
  t.equal(lines.set(null), "changed", "unset again");
  t.equal(lines.current(), null);
  t.equal(new ClusterHbaLines(["bad\u0000"]).current(), null, "a bad first value is not taken either");
});

t.test("addresses and peers", async (t) => {
  t.equal(hbaAddress("[::1]"), "::1/128");
  t.equal(hbaAddress("x y"), null);
  const peers = new HbaPeers();
  t.ok(peers.set(["10.0.0.3", "10.0.0.2", "10.0.0.2"]));
  t.same(peers.current(), ["10.0.0.2", "10.0.0.3"]);
  t.notOk(peers.set(["10.0.0.2", "10.0.0.3"]), "the same set is no change");
  t.equal(hostOfAddress("[fe80::1]:7001"), "fe80::1");
  t.equal(hostOfAddress("10.0.0.1:7001"), "10.0.0.1");
  t.equal(hostOfConnUrl("postgresql://[fe80::2]:5432/postgres"), "fe80::2");
  t.equal(hostOfConnUrl("not a url"), null);
  const view = { members: [{ connUrl: "postgresql://10.0.0.9:5432/postgres" }, { connUrl: "" }] } as unknown as ScopeView;
  t.same(hbaPeerHosts(["10.0.0.1:7001", "10.0.0.9:7001"], view), ["10.0.0.1", "10.0.0.9"]);
});
