/**
 * What the demo shows of the cluster: a table of the members (each agent's GET /patroni, plus the
 * replay lag measured in SQL), the wait for a healthy cluster (one primary holding the lease,
 * every other member a replica streaming from it), and the agents' log lines.
 */
import { type NodeStatus, type PgCluster, waitFor } from "../../lab/pg_cluster.js";

const CURRENT_LSN = "SELECT pg_current_wal_lsn()::text AS lsn";
const REPLAY_LAG =
  "SELECT pg_wal_lsn_diff($1::pg_lsn, pg_last_wal_replay_lsn())::bigint::text AS bytes";

/** Bytes of WAL each replica has still to replay, by member; null where it cannot be measured. */
async function replayLagBytes(
  cluster: PgCluster,
  primary: string | null,
): Promise<Map<string, bigint | null>> {
  const lag = new Map<string, bigint | null>();
  const rows = primary === null ? [] : await cluster.query<{ lsn: string }>(primary, CURRENT_LSN)
    .catch(() => []);
  const current = rows[0]?.lsn ?? null;
  await Promise.all([...cluster.nodes.keys()].map(async (name) => {
    if (name === primary || current === null) return lag.set(name, null);
    const replayed = await cluster.query<{ bytes: string | null }>(name, REPLAY_LAG, [current])
      .catch(() => []);
    const bytes = replayed[0]?.bytes;
    if (bytes === undefined || bytes === null) return lag.set(name, null);
    // The two positions are read one after the other: a replica may pass the LSN read first.
    return lag.set(name, BigInt(bytes) < 0n ? 0n : BigInt(bytes));
  }));
  return lag;
}

/** The members table: one line per member, the HA loop's last reason sentence at the end. */
export async function membersTable(cluster: PgCluster): Promise<string> {
  const statuses = await cluster.statuses();
  const lag = await replayLagBytes(cluster, await cluster.primary());
  const header = ["member", "role", "state", "TL", "lease", "raft (term)", "replay lag",
    "reason (HA loop)"];
  const names = [...statuses.keys()].sort();
  const lines = names.map((name) => cells(name, statuses.get(name) ?? null, lag.get(name) ?? null));
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const row = (values: readonly string[]): string =>
    "  " + values.map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i]!))).join("  ");
  return [row(header), ...lines.map(row)].join("\n");
}

function cells(name: string, s: NodeStatus | null, lagBytes: bigint | null): string[] {
  if (s === null) return [name, "-", "agent down", "-", "-", "-", "-", "(GET /patroni: no answer)"];
  return [
    name,
    s.role ?? "-",
    s.busy === null ? s.state : `${s.state}, ${s.busy}`,
    s.timeline === null ? "-" : String(s.timeline),
    s.holdsLease ? "holder" : "",
    `${s.raft.role} (${s.raft.term})`,
    lagBytes === null ? "-" : `${lagBytes} B`,
    s.reason ?? "",
  ];
}

/** Waits for one primary and streaming replicas; returns the primary. */
export async function healthy(cluster: PgCluster, timeoutMs: number): Promise<string> {
  const what = "one primary and every other member a streaming replica";
  return waitFor(what, timeoutMs, async () => {
    const primary = await cluster.primary();
    if (primary === null) return undefined;
    for (const [name, s] of await cluster.statuses()) {
      if (name === primary) continue;
      if (s?.role !== "replica" || s.busy !== null) return undefined;
      const sql = "SELECT status FROM pg_stat_wal_receiver";
      const receiver = await cluster.query<{ status: string }>(name, sql).catch(() => []);
      if (receiver[0]?.status !== "streaming") return undefined;
    }
    return primary;
  }, 200);
}

/** Waits until every replica has replayed the primary's current WAL position. */
export async function caughtUp(
  cluster: PgCluster,
  primary: string,
  timeoutMs: number,
): Promise<void> {
  await waitFor("every replica to replay the primary's WAL", timeoutMs, async () => {
    const lag = await replayLagBytes(cluster, primary);
    const behind = [...lag].filter(([name, bytes]) => name !== primary && (bytes ?? 1n) > 0n);
    return behind.length === 0 ? true : undefined;
  }, 100);
}

/** The agent's log (pino JSON) as "HH:MM:SS.mmm message" lines; other lines as they are. */
export function logLines(cluster: PgCluster, name: string, text = ""): string[] {
  return cluster.agentLog(name).split("\n").flatMap((line) => {
    if (line === "" || !line.includes(text)) return [];
    try {
      const entry = JSON.parse(line) as { time?: number; msg?: string };
      if (typeof entry.msg !== "string" || !entry.msg.includes(text)) return [];
      return [`${new Date(entry.time ?? 0).toISOString().slice(11, 23)} ${entry.msg}`];
    } catch {
      return [line];
    }
  });
}
