/**
 * node.yml's side of the cluster-wide postgresql.pg_hba, use_pg_rewind and use_slots: what it
 * sets locally (which wins, src/ha/settings.ts) is told apart from what it leaves to the
 * cluster's config, and bootstrap.dcs and the local lists are checked as PATCH /config checks
 * the cluster's, every mistake named by its key.
 */
import { either as E } from "fp-ts";
import t from "tap";
import { parseAgentConfig } from "../../src/agent/config.js";
import { MINIMAL_NODE_YML } from "./config_support.js";

const BASE = MINIMAL_NODE_YML;

t.test("use_pg_rewind and use_slots left out of node.yml are left to the cluster's config", async (t) => {
  const parsed = parseAgentConfig(BASE, "node.yml");
  if (E.isLeft(parsed)) throw new Error(parsed.left);
  t.equal(parsed.right.ha.usePgRewind, null);
  t.equal(parsed.right.ha.useSlots, null);
  const set = parseAgentConfig(`${BASE}  use_pg_rewind: false\n  use_slots: true\n`, "node.yml");
  if (E.isLeft(set)) throw new Error(set.left);
  t.equal(set.right.ha.usePgRewind, false, "set in node.yml: it wins");
  t.equal(set.right.ha.useSlots, true);
});

t.test("Patroni's sample placement, bootstrap.dcs.postgresql, is read as given", async (t) => {
  const yaml = `${BASE}bootstrap:\n  dcs:\n    postgresql:\n      use_pg_rewind: true\n      use_slots: false\n      pg_hba:\n        - host replication replicator 127.0.0.1/32 md5\n        - host all all 0.0.0.0/0 md5\n`;
  const parsed = parseAgentConfig(yaml, "node.yml");
  if (E.isLeft(parsed)) throw new Error(parsed.left);
  t.same(parsed.right.ha.bootstrapSwitches, { use_pg_rewind: true, use_slots: false }, "in force until the cluster has a config");
  t.same(parsed.right.bootstrapDcs["postgresql"], { use_pg_rewind: true, use_slots: false, pg_hba: ["host replication replicator 127.0.0.1/32 md5", "host all all 0.0.0.0/0 md5"] });
});

t.test("bad values in bootstrap.dcs and in node.yml's own lists are refused, all at once, by key", async (t) => {
  const yaml = `${BASE}  pg_hba: ["host all app 10.0.0.0/8 scram-sha-257"]
  use_slots: "yes"
bootstrap:
  pg_hba: ["host all all 0.0.0.0/0"]
  dcs:
    postgresql:
      use_pg_rewind: 1
      pg_hba:
        - local all all peer
        - "hots all all 0.0.0.0/0 md5"
`;
  const parsed = parseAgentConfig(yaml, "node.yml");
  if (E.isRight(parsed)) throw new Error("accepted");
  const lines = parsed.left.split("\n");
  t.ok(lines.includes('node.yml: postgresql.pg_hba[0]: "host all app 10.0.0.0/8 scram-sha-257" has "scram-sha-257" where the authentication method goes (host DATABASE USER ADDRESS METHOD [OPTIONS]; methods: trust, reject, scram-sha-256, md5, password, gss, sspi, ident, peer, ldap, radius, cert, pam, bsd)'), parsed.left);
  t.ok(lines.includes('node.yml: postgresql.use_slots: must be true or false, got "yes"'), parsed.left);
  t.ok(lines.includes('node.yml: bootstrap.pg_hba[0]: "host all all 0.0.0.0/0" has no authentication method (host DATABASE USER ADDRESS METHOD [OPTIONS])'), parsed.left);
  t.ok(lines.includes("node.yml: bootstrap.dcs.postgresql.use_pg_rewind: must be true or false, got 1"), parsed.left);
  t.ok(lines.includes('node.yml: bootstrap.dcs.postgresql.pg_hba[1]: "hots all all 0.0.0.0/0 md5" starts with "hots", which is no record type (local, host, hostssl, hostnossl, hostgssenc, hostnogssenc)'), parsed.left);
});

t.test("a list longer than the bound is refused before its lines are read", async (t) => {
  const lines = Array.from({ length: 257 }, () => "  - local all all peer").join("\n");
  const parsed = parseAgentConfig(`${BASE}  pg_hba:\n${lines}\n`, "node.yml");
  if (E.isRight(parsed)) throw new Error("accepted");
  t.match(parsed.left, /node\.yml: postgresql\.pg_hba: has 257 lines, more than the 256 allowed/);
});
