/**
 * Acceptance: permanent replication slots declared in the cluster's config through PATCH /config,
 * on a real three-node cluster — a physical and a logical slot on the primary, the physical one
 * on the replicas, both on the new primary after the old one is killed (the logical one made
 * again there: PostgreSQL 15), a slot removed from the config dropped while an operator's slot
 * stays, the old primary back as a replica without its stale slots, their state in GET /patroni
 * and /metrics, and max_slot_wal_keep_size on every node.
 */
import pg from "pg";
import t from "tap";
import { PgCluster, SUPERUSER, waitFor } from "../../lab/pg_cluster.js";

const cluster = await PgCluster.create();
t.teardown(() => cluster.destroy());

const api = (name: string, method: string, path: string, body?: unknown) => cluster.api(name, method, path, body, 20_000);

/** A client of database app on one node (a logical slot is read from its own database). */
async function appClient(name: string): Promise<pg.Client> {
  const client = new pg.Client({ host: "127.0.0.1", port: cluster.spec(name).pgPort, user: SUPERUSER.username, password: SUPERUSER.password, database: "app", connectionTimeoutMillis: 2000 });
  client.on("error", () => {});
  await client.connect();
  return client;
}

interface SlotRow {
  readonly slot_name: string;
  readonly slot_type: string;
  readonly database: string | null;
  readonly plugin: string | null;
  readonly reserved: boolean;
}

async function slots(name: string): Promise<Map<string, SlotRow>> {
  const rows = await cluster.query<SlotRow>(name, "SELECT slot_name, slot_type, database, plugin, restart_lsn IS NOT NULL AS reserved FROM pg_replication_slots WHERE slot_name NOT LIKE 'rg\\_%'");
  return new Map(rows.map((row) => [row.slot_name, row]));
}

/** Waits until `name` has exactly the non-member slots `expected` (by name). */
function slotsOn(name: string, expected: readonly string[], timeoutMs = 15_000): Promise<Map<string, SlotRow>> {
  const want = [...expected].sort().join(",");
  return waitFor(`${name} to have the slots [${want}]`, timeoutMs, async () => {
    const found = await slots(name).catch(() => null);
    return found !== null && [...found.keys()].sort().join(",") === want ? found : undefined;
  }, 200);
}

const PHYSICAL = { type: "physical" };
const LOGICAL = { type: "logical", database: "app", plugin: "test_decoding" };
let primary = "";

t.test("slots declared with PATCH /config: both on the primary, the physical one on the replicas", async (t) => {
  cluster.startAll();
  primary = await cluster.waitHealthy(120_000);
  await cluster.query(primary, "CREATE DATABASE app");
  const refused = await api(primary, "PATCH", "/config", { slots: { rg_mine: PHYSICAL } });
  t.equal(refused.status, 400, "a slot with the member prefix is refused");
  t.match(refused.json["message"], /slots\.rg_mine: slot name "rg_mine" starts with "rg_", the prefix of the slots raftgres keeps for members: choose another name/);
  const patched = await api(primary, "PATCH", "/config", { slots: { keep_wal: PHYSICAL, cdc: LOGICAL }, postgresql: { parameters: { max_slot_wal_keep_size: "64MB" } } });
  t.equal(patched.status, 200, patched.text);
  const onPrimary = await slotsOn(primary, ["cdc", "keep_wal"]);
  t.match(onPrimary.get("keep_wal"), { slot_type: "physical", reserved: true }, "the physical slot reserves WAL at once");
  t.match(onPrimary.get("cdc"), { slot_type: "logical", database: "app", plugin: "test_decoding" });
  const wal = await cluster.query<{ wal_level: string }>(primary, "SHOW wal_level");
  t.equal(wal[0]?.wal_level, "logical", "raftgres runs with wal_level logical");
  for (const name of cluster.nodes.keys()) {
    if (name === primary) continue;
    const onReplica = await slotsOn(name, ["keep_wal"]);
    t.match(onReplica.get("keep_wal"), { slot_type: "physical" }, `${name} keeps the physical slot (PostgreSQL 15 has no logical slots on a standby)`);
  }
  const app = await appClient(primary);
  try {
    await app.query("CREATE TABLE app_rows (id int); INSERT INTO app_rows VALUES (1), (2)");
    const changes = await app.query<{ data: string }>("SELECT data FROM pg_logical_slot_peek_changes('cdc', NULL, NULL)");
    t.ok(changes.rows.some((row) => row.data.includes("app_rows")), "the logical slot decodes the inserts");
  } finally {
    await app.end().catch(() => {});
  }
});

t.test("max_slot_wal_keep_size from the config reaches every node", async (t) => {
  for (const name of cluster.nodes.keys()) {
    const value = await waitFor(`${name} to apply max_slot_wal_keep_size`, 10_000, async () => {
      const rows = await cluster.query<{ max_slot_wal_keep_size: string }>(name, "SHOW max_slot_wal_keep_size");
      return rows[0]?.max_slot_wal_keep_size === "64MB" ? rows[0].max_slot_wal_keep_size : undefined;
    });
    t.equal(value, "64MB", `${name}: SHOW max_slot_wal_keep_size`);
  }
});

t.test("the slots' state in GET /patroni and /metrics", async (t) => {
  const status = await waitFor("the primary to report its slots", 10_000, async () => {
    const body = (await api(primary, "GET", "/patroni")).json as { raftgres?: { slots?: Record<string, Record<string, unknown>> } };
    const reported = body.raftgres?.slots;
    return reported?.["cdc"]?.["present"] === true && reported["keep_wal"]?.["present"] === true ? reported : undefined;
  });
  t.match(status["keep_wal"], { type: "physical", active: false, wal_status: "reserved" });
  t.match(status["cdc"], { type: "logical", database: "app", plugin: "test_decoding", active: false });
  t.type(status["cdc"]?.["confirmed_flush_lsn"], "number");
  t.type(status["keep_wal"]?.["retained_bytes"], "number");
  const metrics = (await api(primary, "GET", "/metrics")).text;
  t.match(metrics, /^raftgres_slot_present\{[^}]*slot="cdc",type="logical"\} 1$/m);
  t.match(metrics, /^raftgres_slot_lost\{[^}]*slot="keep_wal",type="physical"\} 0$/m);
  t.match(metrics, /^raftgres_slot_retained_bytes\{[^}]*slot="keep_wal",type="physical"\} \d+$/m);
  const replica = [...cluster.nodes.keys()].find((n) => n !== primary)!;
  const onReplica = (await api(replica, "GET", "/patroni")).json as { raftgres?: { slots?: Record<string, Record<string, unknown>> } };
  t.match(onReplica.raftgres?.slots?.["cdc"], { present: false, note: /keeps logical slots on the primary only/ }, "a replica says why it has no logical slot");
});

t.test("after the primary is killed, the new primary has both slots; a slot removed from the config is dropped, an operator's stays; the old primary rejoins without stale slots", async (t) => {
  const old = primary;
  const postmaster = cluster.postmasterPid(old);
  t.ok(postmaster, "the primary's postmaster runs");
  cluster.signalAgent(old, "SIGKILL");
  process.kill(postmaster!, "SIGKILL");
  primary = await waitFor("a new primary", 30_000, async () => {
    const p = await cluster.primary();
    return p !== null && p !== old ? p : undefined;
  });
  const onNew = await slotsOn(primary, ["cdc", "keep_wal"]);
  t.match(onNew.get("cdc"), { slot_type: "logical", database: "app", plugin: "test_decoding" }, `${primary} made the logical slot again`);
  t.match(onNew.get("keep_wal"), { slot_type: "physical", reserved: true }, `${primary} kept the physical slot it had as a replica`);
  await waitFor("the log line about the recreated logical slot", 10_000, () => (cluster.agentLog(primary).includes("recreated logical slot cdc on this new primary") ? true : undefined));
  t.pass("the new primary logs that the logical slot starts at its own position");
  await cluster.query(primary, "SELECT pg_create_physical_replication_slot('operator_slot')");
  const patched = await api(primary, "PATCH", "/config", { slots: { keep_wal: null } });
  t.equal(patched.status, 200, patched.text);
  await slotsOn(primary, ["cdc", "operator_slot"]);
  t.pass("keep_wal was dropped on the primary, cdc and the operator's slot stay");
  const other = [...cluster.nodes.keys()].find((n) => n !== old && n !== primary)!;
  await slotsOn(other, [], 20_000);
  t.pass(`keep_wal was dropped on ${other} too`);
  cluster.start(old);
  t.equal(await cluster.waitHealthy(60_000), primary, `${old} rejoined as a replica`);
  await slotsOn(old, [], 20_000);
  t.pass(`${old} dropped its stale copy of the logical slot and the retired physical one`);
});
