/**
 * Acceptance (issue 15 item 2): the cluster-wide postgresql.pg_hba and use_slots, where Patroni's
 * sample puts them (bootstrap.dcs.postgresql), are in force on every member; a PATCH /config of
 * pg_hba reaches every member's pg_hba.conf with a reload, no restart. The nodes leave
 * postgresql.pg_hba out of node.yml: theirs would win (Patroni's precedence, unit-tested in
 * test/pg/hba.test.ts). Real PostgreSQL, real agents.
 */
import pg from "pg";
import t from "tap";
import { PgCluster, waitFor } from "../../lab/pg_cluster.js";

const APP = { username: "app", password: "app-pw-1" };
const REPORTS = { username: "reports", password: "reports-pw-1" };
const lineFor = (role: string) => `host all ${role} 127.0.0.1/32 scram-sha-256`;

const cluster = await PgCluster.create({
  pgHba: [],
  extraYaml: `bootstrap:
  dcs:
    postgresql:
      use_slots: false
      pg_hba:
        - ${lineFor(APP.username)}
  users:
    ${APP.username}: { password: ${APP.password} }
    ${REPORTS.username}: { password: ${REPORTS.password} }
`,
});
t.teardown(() => cluster.destroy());

interface Rule {
  readonly user_name: string[];
  readonly error: string | null;
}

async function userRules(name: string): Promise<string[]> {
  const rules = await cluster.query<Rule>(name, "SELECT user_name, error FROM pg_hba_file_rules ORDER BY line_number");
  if (rules.some((r) => r.error !== null)) throw new Error(`${name}'s pg_hba.conf has lines PostgreSQL refuses: ${JSON.stringify(rules)}`);
  return rules.flatMap((r) => r.user_name).filter((u) => u === APP.username || u === REPORTS.username);
}

/** Logs in as `role` from 127.0.0.1: what the server's loaded pg_hba.conf allows, not only the file. */
async function logsIn(name: string, role: { username: string; password: string }): Promise<string> {
  const client = new pg.Client({ host: "127.0.0.1", port: cluster.spec(name).pgPort, user: role.username, password: role.password, database: "postgres", connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    const [row] = (await client.query<{ user: string }>("SELECT current_user AS user")).rows;
    return row?.user ?? "?";
  } catch (error: unknown) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

const startTimes = new Map<string, string>();

t.test("bootstrap.dcs.postgresql.pg_hba's line is in every member's pg_hba_file_rules, and lets its role in", async (t) => {
  cluster.startAll();
  const primary = await cluster.waitHealthy(120_000);
  for (const name of cluster.nodes.keys()) {
    // A replica reads the cluster's config once it has cloned: wait for it to be written.
    await waitFor(`${name}'s pg_hba.conf with the cluster's line`, 20_000, async () => ((await userRules(name)).includes(APP.username) ? true : undefined));
    t.same(await userRules(name), [APP.username], `${name}: the cluster's line, and no other role of the user's`);
    t.equal(await logsIn(name, APP), APP.username, `${APP.username} logs in to ${name} through it`);
    t.match(await logsIn(name, REPORTS), /no pg_hba\.conf entry/, `${REPORTS.username}, with no line, is refused by ${name}: raftgres adds none for every role`);
    const [started] = await cluster.query<{ at: string }>(name, "SELECT pg_postmaster_start_time()::text AS at");
    startTimes.set(name, started?.at ?? "");
  }
  t.ok(primary);
});

t.test("use_slots false from bootstrap.dcs: the primary keeps no member slots, the replicas stream without one", async (t) => {
  const primary = await cluster.waitHealthy(30_000);
  const slots = await cluster.query<{ slot_name: string }>(primary, "SELECT slot_name FROM pg_replication_slots");
  t.same(slots, [], "no replication slot on the primary");
  const senders = await cluster.query<{ application_name: string }>(primary, "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming' ORDER BY 1");
  t.same(senders.map((s) => s.application_name), [...cluster.nodes.keys()].filter((n) => n !== primary).sort(), "every replica streams");
  for (const name of cluster.nodes.keys()) {
    if (name === primary) continue;
    const [slot] = await cluster.query<{ slot: string }>(name, "SELECT current_setting('primary_slot_name') AS slot");
    t.equal(slot?.slot, "", `${name} names no slot`);
  }
});

t.test("PATCH /config changing pg_hba reaches every member with a reload, no restart", async (t) => {
  const primary = await cluster.waitHealthy(30_000);
  const answer = await cluster.api(primary, "PATCH", "/config", { postgresql: { pg_hba: [lineFor(REPORTS.username)] } }, 10_000);
  t.equal(answer.status, 200, answer.text);
  for (const name of cluster.nodes.keys()) {
    await waitFor(`${name}'s pg_hba.conf with the new line`, 20_000, async () => (JSON.stringify(await userRules(name)) === JSON.stringify([REPORTS.username]) ? true : undefined));
    t.pass(`${name}'s pg_hba_file_rules has the new line in place of the old one`);
    // The loaded rules follow the file: a reload, not only a write.
    await waitFor(`${REPORTS.username} let into ${name}`, 10_000, async () => ((await logsIn(name, REPORTS)) === REPORTS.username ? true : undefined));
    t.match(await logsIn(name, APP), /no pg_hba\.conf entry/, `${APP.username}'s line is gone from ${name}'s loaded rules`);
    const [started] = await cluster.query<{ at: string }>(name, "SELECT pg_postmaster_start_time()::text AS at");
    t.equal(started?.at, startTimes.get(name), `${name}'s PostgreSQL was not restarted`);
  }
  const refused = await cluster.api(primary, "PATCH", "/config", { postgresql: { pg_hba: ["host all all 0.0.0.0/0"] } }, 10_000);
  t.equal(refused.status, 400, refused.text);
  t.match(refused.text, /postgresql\.pg_hba\[0\]: \\?"host all all 0\.0\.0\.0\/0\\?" has no authentication method/, "a bad line is refused naming its key");
});
