/**
 * primary_conninfo bounds how long the WAL receiver's connection may hang (issue 14): a
 * connection made or used through packet loss otherwise waits on TCP's backed-off retransmissions
 * long after the network healed. What the upstream's URL sets itself is kept.
 */
import { either as E } from "fp-ts";
import t from "tap";
import { m } from "../ha/fixtures.js";
import { SILENT_LOGGER } from "../../src/lib/logger.js";
import { primaryConninfo, STREAMING_TIMEOUTS } from "../../src/pg/conf.js";
import { parseConnectionString } from "../../src/pg/conninfo.js";
import { resolveSettings } from "../../src/pg/settings.js";
import { REPLICATION, SUPERUSER } from "./support.js";

const settings = resolveSettings({ memberName: m("r1"), dataDir: "/var/lib/raftgres/r1", listenHost: "127.0.0.1", port: 5433, superuser: SUPERUSER, replication: REPLICATION, parameters: {}, pgHba: [], logger: SILENT_LOGGER });

function conninfo(connUrl: string): ReadonlyMap<string, string> {
  if (E.isLeft(settings)) throw new Error(settings.left);
  const rendered = primaryConninfo(settings.right, { member: m("p1"), connUrl });
  if (E.isLeft(rendered)) throw new Error(rendered.left);
  const parsed = parseConnectionString(rendered.right);
  if (E.isLeft(parsed)) throw new Error(`primary_conninfo does not parse: ${parsed.left}`);
  return parsed.right;
}

t.test("the WAL receiver's connection gives up when it hangs: connect timeout, TCP user timeout, keepalives", async (t) => {
  const params = conninfo("postgresql://10.200.0.2:5432/postgres");
  t.equal(params.get("host"), "10.200.0.2");
  t.equal(params.get("user"), REPLICATION.username);
  t.equal(params.get("connect_timeout"), "5");
  t.equal(params.get("tcp_user_timeout"), "5000");
  t.same(["keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count"].map((key) => params.get(key)), ["1", "5", "2", "3"]);
  t.notOk(params.has("password"), "the password stays in the password file");
});

t.test("what the upstream's URL sets itself is kept", async (t) => {
  const params = conninfo("postgresql://10.200.0.2:5432/postgres?connect_timeout=30&tcp_user_timeout=0");
  t.equal(params.get("connect_timeout"), "30");
  t.equal(params.get("tcp_user_timeout"), "0");
  t.equal(params.get("keepalives_idle"), STREAMING_TIMEOUTS["keepalives_idle"]);
});
